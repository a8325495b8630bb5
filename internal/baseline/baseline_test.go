package baseline

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/blevesearch/bleve/v2"
)

// site serves a list page of three ads, two of them sharing a photo, the
// second ad answered 429 once, and a disallowed page the crawl must skip.
func site(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var photo [2][]byte
	for i := range photo {
		img := image.NewGray(image.Rect(0, 0, 40, 30))
		for p := range img.Pix {
			img.Pix[p] = uint8(p * (i + 1))
		}
		img.Set(0, 0, color.Gray{Y: 9})
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, img, nil); err != nil {
			t.Fatal(err)
		}
		photo[i] = buf.Bytes()
	}
	var limited atomic.Bool
	var avoided atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/list/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `<html><body><a href="/ad/1">1</a><a href="/ad/2">2</a><a href="/ad/3">3</a><a href="/list/archive/">old</a></body></html>`)
	})
	mux.HandleFunc("/list/archive/", func(w http.ResponseWriter, _ *http.Request) {
		avoided.Add(1)
		fmt.Fprint(w, `<html><body>archive</body></html>`)
	})
	mux.HandleFunc("/ad/", func(w http.ResponseWriter, r *http.Request) {
		id := strings.TrimPrefix(r.URL.Path, "/ad/")
		if id == "2" && !limited.Swap(true) {
			w.Header().Set("Retry-After", "0")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		fmt.Fprintf(w, `<html><body><h1>Ad %s</h1><p class="body">text of %s</p><span class="tel">510-555-000%s</span>
<img src="/img/%d.jpg"></body></html>`, id, id, id, map[string]int{"1": 0, "2": 0, "3": 1}[id])
	})
	mux.HandleFunc("/img/", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(photo[map[string]int{"/img/0.jpg": 0, "/img/1.jpg": 1}[r.URL.Path]])
	})
	return httptest.NewServer(mux), &avoided
}

func TestRun(t *testing.T) {
	ts, avoided := site(t)
	defer ts.Close()
	re := regexp.MustCompile
	s := Site{Base: ts.URL, Starts: []string{"/list/"}, Follow: []*regexp.Regexp{re(`^/list/`), re(`^/ad/\d+$`)},
		Avoid: []*regexp.Regexp{re(`^/list/archive/`)}, Parallelism: 2, Retries: 2,
		Layouts: []Layout{{AdPage: re(`^/ad/\d+$`), Title: "h1", Body: "p.body", Phone: "span.tel", Images: "img", ImageAttr: "src"}}}
	dir := filepath.Join(t.TempDir(), "index.bleve")
	r, err := Run(context.Background(), s, dir)
	if err != nil {
		t.Fatal(err)
	}
	if r.Ads != 3 || r.Images != 3 || r.Distinct != 2 || r.Failed != 0 {
		t.Errorf("%+v, want 3 ads, 3 images, 2 distinct, none failed", r)
	}
	if avoided.Load() != 0 {
		t.Errorf("the avoided page was fetched %d times", avoided.Load())
	}
	if r.Total() != r.Crawl+r.Download+r.Hash+r.Index || r.Crawl <= 0 {
		t.Errorf("steps' times %+v", r)
	}
	idx, err := bleve.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	for _, tc := range []struct {
		query string
		want  uint64
	}{{"text", 3}, {"+title:ad +body:2", 1}, {`phone:"510-555-0003"`, 1}} {
		res, err := idx.Search(bleve.NewSearchRequest(bleve.NewQueryStringQuery(tc.query)))
		if err != nil {
			t.Fatal(err)
		}
		if res.Total != tc.want {
			t.Errorf("%q: %d hits, want %d", tc.query, res.Total, tc.want)
		}
	}
	// The two ads with the same photo carry the same pHash.
	req := bleve.NewSearchRequest(bleve.NewMatchAllQuery())
	req.Fields = []string{"phash"}
	res, err := idx.Search(req)
	if err != nil || res.Total != 3 {
		t.Fatalf("%v, %v", res, err)
	}
	hashes := map[string]any{}
	for _, h := range res.Hits {
		hashes[strings.TrimPrefix(h.ID, ts.URL)] = h.Fields["phash"]
	}
	if h1, h2, h3 := hashes["/ad/1"], hashes["/ad/2"], hashes["/ad/3"]; h1 == nil || h1 != h2 || h1 == h3 {
		t.Errorf("pHashes %v %v %v: want the first two equal, the third another", h1, h2, h3)
	}
}
