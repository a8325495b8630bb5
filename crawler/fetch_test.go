package crawler

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/adwatch/adwatch/internal/bus"
	"github.com/adwatch/adwatch/internal/bus/bustest"
	"github.com/adwatch/adwatch/internal/record"
	"github.com/adwatch/adwatch/internal/site"
)

var jpeg = []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00 a jpeg as far as sniffing goes")

// gzipped is n zero bytes, gzipped (a few KiB for many MiB).
func gzipped(n int) []byte {
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	zw.Write(make([]byte, n))
	zw.Close()
	return b.Bytes()
}

// unsafeSite serves what a hostile or careless site may: bombs, loops,
// slow images, pages posing as images.
func unsafeSite(t *testing.T) *httptest.Server {
	t.Helper()
	bomb := gzipped(8 << 20)
	mux := http.NewServeMux()
	mux.HandleFunc("/robots.txt", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "User-agent: *\nDisallow: /private/\n") })
	mux.HandleFunc("/img/ok.jpg", func(w http.ResponseWriter, r *http.Request) { w.Write(jpeg) })
	mux.HandleFunc("/img/page.jpg", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "<!doctype html><html><body>Please log in</body></html>")
	})
	mux.HandleFunc("/img/bomb.jpg", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(bomb)
	})
	mux.HandleFunc("/img/drip.jpg", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/jpeg")
		for _, b := range append(jpeg, make([]byte, 1000)...) {
			if _, err := w.Write([]byte{b}); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	mux.HandleFunc("/img/loop.jpg", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/img/loop2.jpg", http.StatusFound) })
	mux.HandleFunc("/img/loop2.jpg", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/img/loop.jpg", http.StatusFound) })
	mux.HandleFunc("/img/to-metadata.jpg", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
	})
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return ts
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// siteAt is a site on base; extra is more YAML.
func siteAt(t *testing.T, base, extra string) site.Site {
	t.Helper()
	s, err := site.Parse([]byte(fmt.Sprintf("name: unsafe\nbase_url: %s\nstart_urls: [\"/\"]\nallowed: ['/$', '/ad/']\nlist_pages: ['/$']\nad_pages: ['/ad/']\n"+
		"fields: {id: {css: article, attr: data-id}, images: {css: img, attr: src}}\n%s", base, extra)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestImageRefused: each image a site must not make the crawler fetch is
// refused with a clear error, counted by kind, and the ad goes on.
func TestImageRefused(t *testing.T) {
	ts := unsafeSite(t)
	_, port, _ := net.SplitHostPort(ts.Listener.Addr().String())
	const allow = "allow_private_addresses: true\n"
	for _, tc := range []struct {
		name, extra, url string
		kind, want       string // the error kind counted and a part of its text; "" for a stored image
	}{
		{"ok", allow, ts.URL + "/img/ok.jpg", "", ""},
		{"loopback without allow_private_addresses", "", ts.URL + "/img/ok.jpg", "blocked_address", "127.0.0.1 is a loopback address"},
		{"metadata address in image_hosts without allow_private_addresses", "image_hosts: [169.254.169.254]\n", "http://169.254.169.254/latest/meta-data/", "blocked_address", "169.254.169.254 is a link-local address"},
		{"metadata address not in image_hosts", allow, "http://169.254.169.254/latest/meta-data/", "blocked_host", "host not allowed: 169.254.169.254"},
		{"unknown image host", allow, "http://localhost:" + port + "/img/ok.jpg", "blocked_host", "host not allowed: localhost"},
		{"image host not listed in image_hosts", allow + "image_hosts: [img.example]\n", ts.URL + "/img/ok.jpg", "blocked_host", "host not allowed: 127.0.0.1"},
		{"an HTML page as an image", allow, ts.URL + "/img/page.jpg", "not_image", "its content is text/html"},
		{"gzip bomb by Content-Encoding", allow + "max_image_bytes: 1048576\n", ts.URL + "/img/bomb.jpg", "too_large", "image larger than 1048576 bytes"},
		{"slow drip", allow + "image_timeout: 300ms\n", ts.URL + "/img/drip.jpg", "timeout", "image not complete within 300ms"},
		{"redirect loop", allow, ts.URL + "/img/loop.jpg", "redirect", "redirect loop back to"},
		{"redirect to the metadata address", allow, ts.URL + "/img/to-metadata.jpg", "redirect", "host not allowed: 169.254.169.254"},
		{"not http", allow, "file:///etc/passwd", "blocked_host", `scheme not allowed: "file"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := bustest.New(t)
			s := siteAt(t, ts.URL, tc.extra)
			c := &Crawler{Images: b.Images, Log: quiet(), Metrics: NewMetrics(nil)}
			cr := newCrawl(&s, groupBudget([]site.Site{s}, []int{0}))
			defer cr.close()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			start := time.Now()
			ref, passing := c.fetchImage(ctx, cr, tc.url)
			if passing != (tc.kind == "timeout") {
				t.Errorf("worth another pass: %v, want %v", passing, tc.kind == "timeout")
			}
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("the image took %s", took)
			}
			if tc.kind == "" {
				if ref.Error != "" || ref.SHA256 == "" {
					t.Errorf("image %+v, want it stored", ref)
				}
				return
			}
			if ref.SHA256 != "" || !strings.Contains(ref.Error, tc.want) {
				t.Errorf("image error %q, want it refused with %q", ref.Error, tc.want)
			}
			if n := testutil.ToFloat64(c.Metrics.Errors.WithLabelValues(tc.kind)); n != 1 {
				t.Errorf("errors of kind %s: %v, want 1", tc.kind, n)
			}
		})
	}
}

// crawlOnce crawls s on a fresh bus and returns the stats, the error and
// the pages published.
func crawlOnce(t *testing.T, c *Crawler, s site.Site) (Stats, []record.Page, error) {
	t.Helper()
	b := bustest.New(t)
	c.JS, c.Images, c.PageSums, c.Log = b.JS, b.Images, b.PageSums, quiet()
	if c.Metrics == nil {
		c.Metrics = NewMetrics(nil)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := c.Crawl(ctx, &s)
	var pages []record.Page
	cons, cerr := b.JS.OrderedConsumer(ctx, bus.StreamPages, jsOrdered())
	if cerr != nil {
		t.Fatal(cerr)
	}
	mb, cerr := cons.Fetch(100, fetchWait())
	if cerr != nil {
		t.Fatal(cerr)
	}
	for m := range mb.Messages() {
		var p record.Page
		if err := json.Unmarshal(m.Data(), &p); err != nil {
			t.Fatal(err)
		}
		pages = append(pages, p)
	}
	return st, pages, err
}

// TestCrawlSafety: pages that would make the crawler inflate a bomb,
// follow a loop, read an endless robots.txt or download every image are
// refused or bounded, and counted; the rest of the site is crawled.
func TestCrawlSafety(t *testing.T) {
	bomb := gzipped(8 << 20)
	var imgs strings.Builder
	for i := range 30 {
		fmt.Fprintf(&imgs, `<img src="/img/%d.jpg">`, i)
	}
	for _, tc := range []struct {
		name   string
		robots string // robots.txt; "big" for one over the limit
		extra  string
		ad     func(w http.ResponseWriter, r *http.Request)
		check  func(t *testing.T, st Stats, err error, pages []record.Page, m *Metrics)
	}{
		{name: "gzip bomb by Content-Encoding", ad: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", "gzip")
			w.Header().Set("Content-Type", "text/html")
			w.Write(bomb)
		}, check: func(t *testing.T, st Stats, err error, pages []record.Page, m *Metrics) {
			if err != nil || len(pages) != 0 || st.Errors != 1 || testutil.ToFloat64(m.Errors.WithLabelValues("too_large")) != 1 {
				t.Errorf("stats %+v, %v, %d pages, too_large %v; want the page refused and counted", st, err, len(pages), testutil.ToFloat64(m.Errors.WithLabelValues("too_large")))
			}
		}},
		{name: "gzip by Content-Type is not inflated", ad: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/gzip")
			w.Write(bomb)
		}, check: func(t *testing.T, st Stats, err error, pages []record.Page, m *Metrics) {
			if err != nil || len(pages) != 1 || !bytes.Equal(pages[0].HTML, bomb) {
				t.Errorf("stats %+v, %v, %d pages; want the %d bytes published as sent", st, err, len(pages), len(bomb))
			}
		}},
		{name: "redirect loop", ad: func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/ad/2.html", http.StatusFound)
		}, check: func(t *testing.T, st Stats, err error, pages []record.Page, m *Metrics) {
			if err != nil || len(pages) != 0 || testutil.ToFloat64(m.Errors.WithLabelValues("redirect")) != 1 {
				t.Errorf("stats %+v, %v, %d pages, redirect errors %v; want the loop refused and counted", st, err, len(pages), testutil.ToFloat64(m.Errors.WithLabelValues("redirect")))
			}
		}},
		{name: "robots.txt too large", robots: "big", check: func(t *testing.T, st Stats, err error, pages []record.Page, m *Metrics) {
			if err == nil || !strings.Contains(err.Error(), "robots.txt larger than 524288 bytes") || len(pages) != 0 {
				t.Errorf("crawl: %v, %d pages; want it stopped by the robots.txt size", err, len(pages))
			}
		}},
		{name: "robots.txt disallows", robots: "User-agent: *\nDisallow: /ad/\n", check: func(t *testing.T, st Stats, err error, pages []record.Page, m *Metrics) {
			if err != nil || len(pages) != 0 {
				t.Errorf("crawl: %v, %d pages; want no ad page fetched", err, len(pages))
			}
		}},
		{name: "max_images", extra: "max_images: 3\n", ad: func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `<article data-id="1">%s</article>`, imgs.String())
		}, check: func(t *testing.T, st Stats, err error, pages []record.Page, m *Metrics) {
			if err != nil || len(pages) != 1 || len(pages[0].Images) != 3 || testutil.ToFloat64(m.Errors.WithLabelValues("too_many_images")) != 1 {
				t.Errorf("%v, %d pages; want one with 3 of its 30 images and too_many_images counted", err, len(pages))
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mux := http.NewServeMux()
			mux.HandleFunc("/robots.txt", func(w http.ResponseWriter, r *http.Request) {
				if tc.robots == "big" {
					for range 600 {
						fmt.Fprintf(w, "User-agent: bot%s\nDisallow: /x/\n", strings.Repeat("z", 1000))
					}
					return
				}
				fmt.Fprint(w, tc.robots)
			})
			mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `<a href="/ad/1.html">1</a>`) })
			mux.HandleFunc("/ad/1.html", func(w http.ResponseWriter, r *http.Request) {
				if tc.ad == nil {
					fmt.Fprint(w, `<article data-id="1"></article>`)
					return
				}
				tc.ad(w, r)
			})
			mux.HandleFunc("/ad/2.html", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ad/1.html", http.StatusFound) })
			mux.HandleFunc("/img/", func(w http.ResponseWriter, r *http.Request) { w.Write(jpeg) })
			ts := httptest.NewServer(mux)
			defer ts.Close()
			c := &Crawler{}
			st, pages, err := crawlOnce(t, c, siteAt(t, ts.URL, "allow_private_addresses: true\n"+tc.extra))
			tc.check(t, st, err, pages, c.Metrics)
		})
	}
}

// TestCrawlRefusesLoopback: a site on 127.0.0.1 without
// allow_private_addresses is not crawled, and says why.
func TestCrawlRefusesLoopback(t *testing.T) {
	var hits sync.Map
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Store(r.URL.Path, true) }))
	defer ts.Close()
	c := &Crawler{}
	_, pages, err := crawlOnce(t, c, siteAt(t, ts.URL, ""))
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1 is a loopback address") || len(pages) != 0 {
		t.Errorf("crawl: %v, %d pages; want it refused as loopback", err, len(pages))
	}
	if n := testutil.ToFloat64(c.Metrics.Errors.WithLabelValues("blocked_address")); n != 1 {
		t.Errorf("blocked_address errors: %v, want 1", n)
	}
	hits.Range(func(k, _ any) bool {
		t.Errorf("the server was reached (%s)", k)
		return true
	})
}

// TestCrawlDelayHonoured: robots.txt's Crawl-delay spaces the requests
// to its host, robots.txt, pages and images alike, whatever the
// parallelism. The times are taken at the server; 5% is left for the
// network between the client's turn and the handler.
func TestCrawlDelayHonoured(t *testing.T) {
	const delay = 200 * time.Millisecond
	var mu sync.Mutex
	var times []time.Time
	mux := http.NewServeMux()
	mux.HandleFunc("/robots.txt", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "User-agent: *\nCrawl-delay: 0.2\n") })
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<a href="/ad/1.html">1</a><a href="/ad/2.html">2</a><a href="/ad/3.html">3</a>`)
	})
	mux.HandleFunc("/ad/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<article data-id="%s"><img src="/img/a.jpg"></article>`, strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/ad/"), ".html"))
	})
	mux.HandleFunc("/img/", func(w http.ResponseWriter, r *http.Request) { w.Write(jpeg) })
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		times = append(times, time.Now())
		mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	defer ts.Close()
	c := &Crawler{}
	st, pages, err := crawlOnce(t, c, siteAt(t, ts.URL, "allow_private_addresses: true\nparallelism: 8\n"))
	if err != nil || len(pages) != 3 {
		t.Fatalf("crawl: %+v %v, %d pages; want 3", st, err, len(pages))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(times) < 8 { // robots.txt, /, 3 ads, their image (fetched once per ad)
		t.Fatalf("%d requests, want at least 8", len(times))
	}
	// The crawler starts request i no sooner than i delays after the
	// first; a request held up on its way (a new connection on a loaded
	// machine) may arrive late, so the check is on the sum, not on each
	// gap, with a little slack for the first request's own way.
	for i := 1; i < len(times); i++ {
		if since := times[i].Sub(times[0]); since < time.Duration(i)*delay-50*time.Millisecond {
			t.Errorf("request %d came %s after the first, want at least %s", i, since, time.Duration(i)*delay)
		}
	}
}
