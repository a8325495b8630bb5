package crawler

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/adwatch/adwatch/internal/bus"
	"github.com/adwatch/adwatch/internal/bus/bustest"
	"github.com/adwatch/adwatch/internal/record"
	"github.com/adwatch/adwatch/internal/site"
)

// hostile is a site that rate-limits, fails, and serves an oversized page.
type hostile struct{ hits500, hits429 atomic.Int64 }

func (h *hostile) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/robots.txt":
		fmt.Fprint(w, "User-agent: *\nDisallow: /ad/secret\n")
	case "/":
		fmt.Fprint(w, `<a href="/ad/1.html">1</a><a href="/ad/2.html">2</a><a href="/ad/3.html">3</a><a href="/ad/4.html">4</a><a href="/ad/secret5.html">5</a><a href="/trap/1">t</a>`)
	case "/ad/1.html":
		fmt.Fprint(w, `<article data-id="1"><img src="/img/a.jpg"><img src="/img/missing.jpg"></article>`)
	case "/ad/2.html":
		if h.hits429.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		fmt.Fprint(w, `<article data-id="2">ok after 429</article>`)
	case "/ad/3.html":
		if h.hits500.Add(1) <= 2 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, `<article data-id="3">ok after 500</article>`)
	case "/ad/4.html":
		fmt.Fprint(w, "<article data-id=\"4\">"+strings.Repeat("x", 3000)+"</article>")
	case "/img/a.jpg":
		fmt.Fprint(w, "\xff\xd8\xff\xe0 not really a jpeg")
	default:
		http.NotFound(w, r)
	}
}

func TestCrawlHostileSite(t *testing.T) {
	h := &hostile{}
	ts := httptest.NewServer(h)
	defer ts.Close()
	b := bustest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := site.Parse([]byte(fmt.Sprintf(`name: hostile
start_urls: ["%s/"]
allowed: ['^%s/($|ad/)']
ad_pages: ['/ad/']
max_body_bytes: 2000
retries: 3
allow_private_addresses: true
fields: {id: {css: article, attr: data-id}, images: {css: img, attr: src}}
`, ts.URL, ts.URL)))
	if err != nil {
		t.Fatal(err)
	}
	c := &Crawler{Sites: []site.Site{s}, JS: b.JS, Images: b.Images, PageSums: b.PageSums, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: NewMetrics(nil)}
	st, err := c.Crawl(ctx, &s)
	if err != nil {
		t.Fatal(err)
	}
	if st.Published != 3 {
		t.Errorf("published %d ad pages, want 3 (1, 2 after a 429, 3 after two 500s): %+v", st.Published, st)
	}
	if st.Errors != 1 {
		t.Errorf("errors = %d, want 1 (the oversized page)", st.Errors)
	}
	if h.hits429.Load() != 2 || h.hits500.Load() != 3 {
		t.Errorf("retries: %d requests to the 429 page, %d to the 500 page", h.hits429.Load(), h.hits500.Load())
	}

	// The published page of ad 1 keeps its failed image with the reason.
	cons, err := b.JS.OrderedConsumer(ctx, bus.StreamPages, jsOrdered())
	if err != nil {
		t.Fatal(err)
	}
	mb, err := cons.Fetch(10, fetchWait())
	if err != nil {
		t.Fatal(err)
	}
	var images []record.ImageRef
	for m := range mb.Messages() {
		var p record.Page
		if err := json.Unmarshal(m.Data(), &p); err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(p.URL, "/ad/1.html") {
			images = p.Images
		}
	}
	if len(images) != 2 || images[0].SHA256 == "" || images[1].Error == "" {
		t.Errorf("images of ad 1: %+v, want one stored and one with its error", images)
	}

	// A second crawl of unchanged pages publishes nothing.
	st2, err := c.Crawl(ctx, &s)
	if err != nil {
		t.Fatal(err)
	}
	if st2.Published != 0 || st2.Unchanged != 3 {
		t.Errorf("second crawl: %+v, want 0 published and 3 unchanged", st2)
	}
}

func TestBackoff(t *testing.T) {
	for _, tc := range []struct {
		attempt int
		header  string
		want    time.Duration
	}{
		{0, "", 500 * time.Millisecond},
		{2, "", 2 * time.Second},
		{20, "", 30 * time.Second},
		{0, "3", 3 * time.Second},
		{0, "99999", 5 * time.Minute},
		{1, "garbage", time.Second},
	} {
		if got := pageBackoff.Wait(tc.attempt, tc.header); got != tc.want {
			t.Errorf("pageBackoff.Wait(%d, %q) = %s, want %s", tc.attempt, tc.header, got, tc.want)
		}
	}
}

// TestRunOutlivesDownSite: a site that is down does not stop the crawl of
// the others nor the monitor; with Once the failure is reported after the
// others were crawled.
func TestRunOutlivesDownSite(t *testing.T) {
	up := httptest.NewServer(&hostile{})
	defer up.Close()
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close() // nothing listens there any more
	mk := func(name, base string) site.Site {
		s, err := site.Parse([]byte(fmt.Sprintf("name: %s\nstart_urls: [\"%s/\"]\nallowed: ['^%s/($|ad/)']\nad_pages: ['/ad/']\nretries: 3\nallow_private_addresses: true\nfields: {id: {css: article, attr: data-id}}\n",
			name, base, base)))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, once := range []bool{true, false} {
		b := bustest.New(t)
		c := &Crawler{Sites: []site.Site{mk("down", downURL), mk("up", up.URL)}, JS: b.JS, Images: b.Images, PageSums: b.PageSums, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Metrics: NewMetrics(nil), Once: once, Interval: 200 * time.Millisecond}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx) }()
		published := func() uint64 {
			st, err := b.JS.Stream(ctx, bus.StreamPages)
			if err != nil {
				return 0
			}
			info, err := st.Info(ctx)
			if err != nil {
				return 0
			}
			return info.State.Msgs
		}
		if once {
			err := <-done
			if err == nil || !strings.Contains(err.Error(), "down") {
				t.Errorf("once: error %v, want the down site named", err)
			}
			if n := published(); n == 0 {
				t.Error("once: the site that is up was not crawled")
			}
		} else {
			for ctx.Err() == nil && published() == 0 {
				time.Sleep(50 * time.Millisecond)
			}
			time.Sleep(500 * time.Millisecond) // a few more passes, each failing on the down site
			select {
			case err := <-done:
				t.Fatalf("monitoring stopped on a down site: %v", err)
			default:
			}
			cancel()
			if err := <-done; err != nil {
				t.Errorf("monitoring ended with %v, want nil on cancel", err)
			}
		}
		cancel()
	}
}

// TestCrawlLargePage crawls an ad page of 3 MiB, which travels base64 in
// JSON at about 4 MiB: over NATS's default 1 MiB payload, so the embedded
// server must allow it, and it reaches the pages stream whole.
func TestCrawlLargePage(t *testing.T) {
	big := "<article data-id=\"9\">" + strings.Repeat("call me, sweet and new in town. ", 3<<20/32) + "</article>"
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			fmt.Fprint(w, `<a href="/ad/9.html">9</a>`)
		case "/ad/9.html":
			fmt.Fprint(w, big)
		default:
			http.NotFound(w, r)
		}
	}))
	defer ts.Close()
	b := bustest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := site.Parse([]byte(fmt.Sprintf(`name: big
start_urls: ["%s/"]
allowed: ['^%s/($|ad/)']
ad_pages: ['/ad/']
allow_private_addresses: true
fields: {id: {css: article, attr: data-id}}
`, ts.URL, ts.URL)))
	if err != nil {
		t.Fatal(err)
	}
	c := &Crawler{Sites: []site.Site{s}, JS: b.JS, Images: b.Images, PageSums: b.PageSums, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: NewMetrics(nil)}
	st, err := c.Crawl(ctx, &s)
	if err != nil || st.Published != 1 || st.Errors != 0 {
		t.Fatalf("crawl of a 3 MiB page: %+v %v, want it published", st, err)
	}
	cons, err := b.JS.OrderedConsumer(ctx, bus.StreamPages, jsOrdered())
	if err != nil {
		t.Fatal(err)
	}
	m, err := cons.Next(jetstream.FetchMaxWait(10 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var p record.Page
	if err := json.Unmarshal(m.Data(), &p); err != nil || string(p.HTML) != big {
		t.Errorf("the page on the stream: %d bytes, want %d (%v)", len(p.HTML), len(big), err)
	}
}
