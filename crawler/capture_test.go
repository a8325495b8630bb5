package crawler

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/adwatch/adwatch/internal/bus/bustest"
	"github.com/adwatch/adwatch/internal/record"
	"github.com/adwatch/adwatch/internal/site"
)

// TestCaptureKeepsWhatACourtAsks: a page served in windows-1252 through a
// redirect, and its image, keep the bytes as served, the status, the
// header fields, the final URL and the redirect, the server's address and
// the time of the fetch.
func TestCaptureKeepsWhatACourtAsks(t *testing.T) {
	jpeg := "\xff\xd8\xff\xe0 not really a jpeg"
	page := "<article data-id=\"1\">caf\xe9 <img src=\"/img/a.jpg\"></article>" // é in windows-1252
	var mu sync.Mutex
	var gotEncoding []string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/robots.txt" {
			mu.Lock()
			gotEncoding = append(gotEncoding, r.Header.Get("Accept-Encoding"))
			mu.Unlock()
		}
		switch r.URL.Path {
		case "/":
			fmt.Fprint(w, `<a href="/ad/old.html">1</a>`)
		case "/ad/old.html":
			http.Redirect(w, r, "/ad/1.html", http.StatusMovedPermanently)
		case "/ad/1.html":
			w.Header().Set("Content-Type", "text/html; charset=windows-1252")
			w.Header().Set("X-Served-By", "test")
			fmt.Fprint(w, page)
		case "/img/a.jpg":
			w.Header().Set("Content-Type", "image/jpeg")
			fmt.Fprint(w, jpeg)
		default:
			http.NotFound(w, r)
		}
	}))
	defer ts.Close()
	b := bustest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := site.Parse([]byte(fmt.Sprintf(`name: court
start_urls: ["%s/"]
allowed: ['^%s/($|ad/)']
ad_pages: ['/ad/']
allow_private_addresses: true
fields: {id: {css: article, attr: data-id}, images: {css: img, attr: src}}
`, ts.URL, ts.URL)))
	if err != nil {
		t.Fatal(err)
	}
	c := &Crawler{Sites: []site.Site{s}, JS: b.JS, Images: b.Images, PageSums: b.PageSums, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: NewMetrics(nil)}
	before := time.Now().UTC()
	if st, err := c.Crawl(ctx, &s); err != nil || st.Published != 1 {
		t.Fatalf("crawl: %+v, %v; want 1 published", st, err)
	}
	p := firstPage(ctx, t, b.JS)
	if string(p.Served()) != page {
		t.Errorf("served bytes %q, want %q", p.Served(), page)
	}
	if string(p.HTML) == page {
		t.Errorf("HTML %q kept windows-1252; the extractor reads UTF-8", p.HTML)
	}
	for _, tc := range []struct {
		what string
		c    *record.Capture
		url  string
		body string
	}{
		{"page", p.Capture, ts.URL + "/ad/1.html", page},
		{"image", imageCapture(p), ts.URL + "/img/a.jpg", jpeg},
	} {
		c := tc.c
		if c == nil {
			t.Errorf("%s: no capture", tc.what)
			continue
		}
		if c.URL != tc.url || c.Status != http.StatusOK || c.ServerIP != "127.0.0.1" || c.Method != http.MethodGet {
			t.Errorf("%s: capture %s %d from %s by %s, want %s 200 from 127.0.0.1 by GET", tc.what, c.URL, c.Status, c.ServerIP, c.Method, tc.url)
		}
		if c.At.Before(before) || c.At.After(time.Now()) || c.At.Location() != time.UTC {
			t.Errorf("%s: captured at %v, want UTC between %v and now", tc.what, c.At, before)
		}
		if c.SHA256 != record.SHA256Hex([]byte(tc.body)) || c.Size != int64(len(tc.body)) {
			t.Errorf("%s: capture digest %s size %d, want those of the body served", tc.what, c.SHA256, c.Size)
		}
		if c.Proto != "HTTP/1.1" || c.Reason != "OK" || len(c.Header["Content-Type"]) != 1 || len(c.Header["Date"]) != 1 {
			t.Errorf("%s: proto %q header %v", tc.what, c.Proto, c.Header)
		}
		if got := c.RequestHeader["Accept-Encoding"]; len(got) != 1 || got[0] != "identity" {
			t.Errorf("%s: request Accept-Encoding %v, want identity", tc.what, got)
		}
	}
	if p.Capture != nil {
		if want := []string{ts.URL + "/ad/old.html"}; fmt.Sprint(p.Capture.Redirects) != fmt.Sprint(want) {
			t.Errorf("redirects %v, want %v", p.Capture.Redirects, want)
		}
		if p.Capture.Header["X-Served-By"] == nil {
			t.Errorf("page header %v lacks X-Served-By", p.Capture.Header)
		}
		if !p.FetchedAt.Equal(p.Capture.At) {
			t.Errorf("FetchedAt %v, capture at %v", p.FetchedAt, p.Capture.At)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, e := range gotEncoding {
		if e != "identity" {
			t.Errorf("a request asked for Accept-Encoding %q; want identity (the bytes kept are the bytes served)", e)
		}
	}
}

func imageCapture(p record.Page) *record.Capture {
	if len(p.Images) == 0 {
		return nil
	}
	return p.Images[0].Capture
}
