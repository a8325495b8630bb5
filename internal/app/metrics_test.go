package app_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/adwatch/adwatch/internal/app"
)

// TestMetricsEndpoint: with metrics.addr every process, whatever its
// roles, serves its registry's metrics there, and MetricNames lists what
// the built stages registered, vectors without series included.
func TestMetricsEndpoint(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := testConfig(t, "http://127.0.0.1:1")
	cfg.Metrics.Addr = addr
	a := app.New(cfg, t.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	a.SyncAlways = false
	if err := a.Connect(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	s, err := a.Build(t.Context(), []string{app.RoleSend}, app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m, ok := s.Named["metrics"]
	if !ok {
		t.Fatalf("stages %v: no metrics server with metrics.addr set", s.Named)
	}
	names := a.MetricNames()
	for _, want := range []string{"adwatch_digest_sent_total", "adwatch_digest_failed_total", "adwatch_digest_retried_total", "go_goroutines", "process_resident_memory_bytes"} {
		if !slices.Contains(names, want) {
			t.Errorf("MetricNames lacks %s: %v", want, names)
		}
	}
	if slices.Contains(names, "adwatch_crawler_errors_total") {
		t.Errorf("MetricNames of the send role holds the crawler's: %v", names)
	}

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	var body string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /metrics: %s", resp.Status)
		}
		body = string(b)
		break
	}
	if !strings.Contains(body, "go_goroutines") {
		t.Errorf("GET /metrics: %q lacks go_goroutines", body)
	}
	if resp, err := http.Get("http://" + addr + "/api/search?q=1"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET /api/search on the metrics address: %s, want 404", resp.Status)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("metrics server: %v", err)
	}
}
