package crawler

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/adwatch/adwatch/internal/bus"
	"github.com/adwatch/adwatch/internal/bus/bustest"
)

// TestStorageFullPausesTheCrawl: when the pages stream is full the crawl
// pauses with a clear error and the gauge up; what was stored stays, and
// once there is room the next pass stores the rest, each page once.
func TestStorageFullPausesTheCrawl(t *testing.T) {
	const ads = 8
	filler := strings.Repeat("a calm and friendly person. ", 60)
	mux := http.NewServeMux()
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, _ *http.Request) {
		for i := range ads {
			fmt.Fprintf(w, `<a href="/ad/%d">ad</a> `, i)
		}
	})
	mux.HandleFunc("/ad/{n}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<html><body><article data-id="%s">%s</article></body></html>`, r.PathValue("n"), filler)
	})
	ts := httptest.NewServer(mux)
	defer ts.Close()
	s := siteAt(t, ts.URL, "allow_private_addresses: true\n")
	b := bustest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := b.ApplyLimits(ctx, bus.Limits{Pages: 8 << 10}); err != nil {
		t.Fatal(err)
	}
	c := &Crawler{JS: b.JS, Images: b.Images, PageSums: b.PageSums, Log: quiet(), Metrics: NewMetrics(nil)}
	_, err := c.Crawl(ctx, &s)
	if err == nil || !strings.Contains(err.Error(), "message store is full") {
		t.Fatalf("crawl into a full stream: %v, want it paused", err)
	}
	if g := testutil.ToFloat64(c.Metrics.StorageFull); g != 1 {
		t.Errorf("storage-full gauge %v, want 1", g)
	}
	stream, err := b.JS.Stream(ctx, bus.StreamPages)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := stream.Info(ctx)
	first := info.State.Msgs
	if first == 0 || first >= ads {
		t.Fatalf("%d pages stored before the stream was full, want some, not all", first)
	}
	// Room again.
	if err := b.ApplyLimits(ctx, bus.Limits{Pages: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	st, err := c.Crawl(ctx, &s)
	if err != nil {
		t.Fatal(err)
	}
	info, _ = stream.Info(ctx)
	if info.State.Msgs != ads || st.Published != ads-int(first) {
		t.Errorf("after room came back: %d pages stored (%d this pass), want %d, each once", info.State.Msgs, st.Published, ads)
	}
	if g := testutil.ToFloat64(c.Metrics.StorageFull); g != 0 {
		t.Errorf("storage-full gauge %v after a whole pass, want 0", g)
	}
}
