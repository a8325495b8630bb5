package crawler

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/adwatch/adwatch/internal/bus"
	"github.com/adwatch/adwatch/internal/bus/bustest"
	"github.com/adwatch/adwatch/internal/record"
)

// TestImageRetriedNextPass: an image that times out on the first pass is
// fetched again on the next, and the page is captured again with it; once
// every image is in, an unchanged page is not fetched for nothing.
func TestImageRetriedNextPass(t *testing.T) {
	var imageHits atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `<html><body><a href="/ad/1">ad</a></body></html>`)
	})
	mux.HandleFunc("/ad/1", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `<html><body><article data-id="1"><img src="/img/1.jpg"></article></body></html>`)
	})
	mux.HandleFunc("/img/1.jpg", func(w http.ResponseWriter, r *http.Request) {
		if imageHits.Add(1) == 1 {
			// The first time, the server is too slow.
			select {
			case <-r.Context().Done():
			case <-time.After(3 * time.Second):
			}
			return
		}
		w.Header().Set("Content-Type", "image/jpeg")
		_, _ = w.Write(jpeg)
	})
	ts := httptest.NewServer(mux)
	defer ts.Close()
	s := siteAt(t, ts.URL, "allow_private_addresses: true\nimage_timeout: 300ms\n")
	b := bustest.New(t)
	c := &Crawler{JS: b.JS, Images: b.Images, PageSums: b.PageSums, Log: quiet(), Metrics: NewMetrics(nil)}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pages := func() []record.Page {
		t.Helper()
		st, err := b.JS.Stream(ctx, bus.StreamPages)
		if err != nil {
			t.Fatal(err)
		}
		info, _ := st.Info(ctx)
		var out []record.Page
		for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
			m, err := st.GetMsg(ctx, seq)
			if err != nil {
				t.Fatal(err)
			}
			var p record.Page
			_ = json.Unmarshal(m.Data, &p)
			out = append(out, p)
		}
		return out
	}
	for pass := 1; pass <= 3; pass++ {
		if _, err := c.Crawl(ctx, &s); err != nil {
			t.Fatalf("pass %d: %v", pass, err)
		}
	}
	got := pages()
	if len(got) != 2 {
		t.Fatalf("%d captures in three passes, want 2 (without the image, then with it)", len(got))
	}
	if got[0].Images[0].Error == "" || got[1].Images[0].Error != "" || got[1].Images[0].SHA256 == "" {
		t.Errorf("captures' images: %+v then %+v", got[0].Images, got[1].Images)
	}
	if n := imageHits.Load(); n != 2 {
		t.Errorf("the image was fetched %d times, want 2", n)
	}
	// Each complete pass says which ads it found.
	st, err := b.JS.Stream(ctx, bus.StreamPasses)
	if err != nil {
		t.Fatal(err)
	}
	last, err := st.GetLastMsgForSubject(ctx, bus.SubjectPasses+".unsafe")
	if err != nil {
		t.Fatal(err)
	}
	var p record.SitePass
	if err := json.Unmarshal(last.Data, &p); err != nil || p.Site != "unsafe" || len(p.AdURLs) != 1 || p.AdURLs[0] != ts.URL+"/ad/1" || !p.Finished.After(p.Started) {
		t.Errorf("last pass %+v %v", p, err)
	}
	if info, _ := st.Info(ctx); info.State.Msgs != 3 {
		t.Errorf("%d passes recorded, want 3", info.State.Msgs)
	}
}

// TestImageWithMissingChunksStoredAgain: an object whose description is in
// the store but whose chunks are not all there (a put cut short by a lost
// node) counts as absent: storing the image again makes it whole, while a
// whole one is left as it is.
func TestImageWithMissingChunksStoredAgain(t *testing.T) {
	b := bustest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := &Crawler{JS: b.JS, Images: b.Images, PageSums: b.PageSums, Log: quiet(), Metrics: NewMetrics(nil)}
	data := make([]byte, 300<<10) // three chunks of 128 KiB
	for i := range data {
		data[i] = byte(i * 31)
	}
	const sha = "broken"
	if _, err := b.Images.PutBytes(ctx, sha, data); err != nil {
		t.Fatal(err)
	}
	info, err := b.Images.GetInfo(ctx, sha)
	if err != nil || info.Chunks < 2 {
		t.Fatalf("object: %+v, %v; want several chunks", info, err)
	}
	if !c.whole(ctx, info) {
		t.Fatal("a whole object counts as broken")
	}
	// Lose one chunk, as a put cut short leaves it.
	st, err := b.JS.Stream(ctx, "OBJ_"+bus.BucketImages)
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.GetLastMsgForSubject(ctx, "$O."+bus.BucketImages+".C."+info.NUID)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteMsg(ctx, m.Sequence); err != nil {
		t.Fatal(err)
	}
	if c.whole(ctx, info) {
		t.Fatal("an object with a chunk missing counts as whole")
	}
	if err := c.storeImage(ctx, sha, data); err != nil {
		t.Fatal(err)
	}
	rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
	defer rcancel()
	got, err := b.Images.GetBytes(rctx, sha)
	if err != nil || len(got) != len(data) {
		t.Fatalf("after storing again: %d bytes, %v; want %d", len(got), err, len(data))
	}
	again, err := b.Images.GetInfo(ctx, sha)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.storeImage(ctx, sha, data); err != nil {
		t.Fatal(err)
	}
	if after, _ := b.Images.GetInfo(ctx, sha); after == nil || after.NUID != again.NUID {
		t.Error("a whole object was put again")
	}
}
