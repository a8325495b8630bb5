package crawler

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/adwatch/adwatch/internal/bus/bustest"
	"github.com/adwatch/adwatch/internal/site"
)

// TestHostGroups: sites that share a host, of their pages or of their
// images, directly or through another site, are crawled one after the
// other in one group; sites on other hosts in groups of their own.
func TestHostGroups(t *testing.T) {
	for _, tc := range []struct {
		name  string
		sites []string // base URL, then " " and the image hosts, comma-separated
		want  [][]int
	}{
		{name: "apart", sites: []string{"http://a.example", "http://b.example", "http://c.example"}, want: [][]int{{0}, {1}, {2}}},
		{name: "one host, other ports", sites: []string{"http://127.0.0.1:8089", "http://127.0.0.1:9000", "http://b.example"}, want: [][]int{{0, 1}, {2}}},
		{name: "an image host shared", sites: []string{"http://a.example img.example", "http://b.example", "http://c.example img.example"}, want: [][]int{{0, 2}, {1}}},
		{name: "through another site", sites: []string{"http://a.example x.example", "http://b.example y.example", "http://c.example x.example,y.example"}, want: [][]int{{0, 1, 2}}},
		{name: "none", want: nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var sites []site.Site
			for i, d := range tc.sites {
				var base, images string
				if _, err := fmt.Sscan(d, &base, &images); err != nil && images != "" {
					t.Fatal(err)
				}
				extra := ""
				if images != "" {
					extra = fmt.Sprintf("image_hosts: [%s]\n", images)
				}
				s, err := site.Parse([]byte(fmt.Sprintf("name: s%d\nbase_url: %s\nstart_urls: [\"/\"]\nallowed: ['/$']\nad_pages: ['/ad/']\nfields: {id: {css: article, attr: data-id}}\n%s", i, base, extra)))
				if err != nil {
					t.Fatal(err)
				}
				sites = append(sites, s)
			}
			if got := hostGroups(sites); !slices.EqualFunc(got, tc.want, slices.Equal) {
				t.Errorf("groups %v, want %v", got, tc.want)
			}
		})
	}
}

// TestSitesShareTheirHost: two sites on one host are crawled at once within
// one budget: never more requests in flight than the smaller parallelism,
// and a site waiting to retry a page the host refused for now does not hold
// the other back.
func TestSitesShareTheirHost(t *testing.T) {
	var mu sync.Mutex
	var inFlight, most int
	var lastB, retriedA time.Time
	var a1 int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		defer func() {
			mu.Lock()
			inFlight--
			mu.Unlock()
		}()
		time.Sleep(20 * time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		switch p := r.URL.Path; {
		case p == "/a/" || p == "/b/":
			for i := 1; i <= 6; i++ {
				fmt.Fprintf(w, `<a href="%sad%d.html">%d</a>`, p, i, i)
			}
		case p == "/a/ad1.html":
			if a1++; a1 == 1 {
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			retriedA = time.Now()
			fmt.Fprint(w, `<article data-id="a1">a</article>`)
		case strings.HasPrefix(p, "/a/ad") || strings.HasPrefix(p, "/b/ad"):
			if strings.HasPrefix(p, "/b/") {
				lastB = time.Now()
			}
			fmt.Fprintf(w, `<article data-id="%s">ad</article>`, strings.Trim(p, "/"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	mk := func(name string, parallelism int) site.Site {
		s, err := site.Parse([]byte(fmt.Sprintf("name: %s\nstart_urls: [\"%s/%s/\"]\nallowed: ['^%s/%s/']\nad_pages: ['/ad']\nretries: 2\nparallelism: %d\nallow_private_addresses: true\nfields: {id: {css: article, attr: data-id}}\n",
			name, srv.URL, name, srv.URL, name, parallelism)))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	b := bustest.New(t)
	c := &Crawler{Sites: []site.Site{mk("a", 4), mk("b", 2)}, JS: b.JS, Images: b.Images, PageSums: b.PageSums,
		Log: slog.New(slog.DiscardHandler), Metrics: NewMetrics(nil), Once: true}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.Run(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if most > 2 {
		t.Errorf("%d requests in flight at once on a host whose sites allow 4 and 2", most)
	}
	if lastB.IsZero() || retriedA.IsZero() {
		t.Fatalf("site b's last ad at %v, site a's retried ad at %v: both must be crawled", lastB, retriedA)
	}
	if !lastB.Before(retriedA) {
		t.Errorf("site b's last ad came %v after site a's retried page: b waited for a's retry", lastB.Sub(retriedA))
	}
}
