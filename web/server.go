// Package web serves adwatch's JSON API and a minimal search page over the
// index, and the Prometheus metrics. It binds to loopback only until
// accounts and an audit log exist.
package web

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/adwatch/adwatch/extractor/phone"
	"github.com/adwatch/adwatch/indexer"
	"github.com/adwatch/adwatch/internal/config"
)

//go:embed index.html
var indexHTML []byte

//go:embed app.js
var appJS []byte

// Server is the web UI and API.
type Server struct {
	// Addr is the listen address (host:port); loopback only.
	Addr      string
	Index     *indexer.Index
	Config    *config.Config
	Alerts    jetstream.KeyValue // nil when no bus is connected
	Watchlist jetstream.KeyValue // nil when no bus is connected
	// Images holds the ads' image bytes by SHA-256; nil when no bus is
	// connected.
	Images   jetstream.ObjectStore
	Gatherer prometheus.Gatherer
	Log      *slog.Logger
	phones   *phone.Extractor
}

// Handler returns the routes.
func (s *Server) Handler() http.Handler {
	s.phones = phone.New(s.Config.Region)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", static("text/html; charset=utf-8", indexHTML))
	mux.HandleFunc("GET /app.js", static("text/javascript; charset=utf-8", appJS))
	mux.HandleFunc("GET /api/search", s.search)
	mux.HandleFunc("POST /api/search/image", s.searchImage)
	mux.HandleFunc("GET /api/ads/{id}", s.adByID)
	mux.HandleFunc("GET /api/profiles/{id}", s.profile)
	mux.HandleFunc("GET /api/snapshot", s.snapshot)
	mux.HandleFunc("GET /api/trends", s.trends)
	mux.HandleFunc("GET /api/export/ads", s.exportAds)
	mux.HandleFunc("GET /api/images/{sha256}", s.image)
	mux.HandleFunc("GET /api/alerts", s.alerts)
	mux.HandleFunc("POST /api/alerts/{key}/status", s.alertStatus)
	mux.HandleFunc("GET /api/watchlist", s.watchlist)
	mux.HandleFunc("POST /api/watchlist", s.addWatch)
	if s.Gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(s.Gatherer, promhttp.HandlerOpts{}))
	}
	return guard(mux)
}

// static serves one file embedded in the binary.
func static(contentType string, body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", contentType)
		_, _ = w.Write(body)
	}
}

// Run serves on s.Addr until ctx is done. It refuses non-loopback
// addresses.
func (s *Server) Run(ctx context.Context) error {
	addr := s.Addr
	if !config.IsLoopback(addr) {
		return fmt.Errorf("serving on %s: only loopback addresses are allowed until accounts and an audit log exist", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	s.Log.Info("web UI and API listening", "url", "http://"+ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-errc
		return nil
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("serving http: %w", err)
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

// decodeBody reads a JSON body of at most 64 KiB into v, answering 415
// when the request does not say it is JSON (a form posted by another site
// cannot) and 400 when it does not decode.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if !isJSON(r) {
		writeErr(w, http.StatusUnsupportedMediaType, "body: want Content-Type: application/json")
		return false
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(v); err != nil {
		writeErr(w, http.StatusBadRequest, "body: "+err.Error())
		return false
	}
	return true
}
