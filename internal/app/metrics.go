package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// MetricsServer serves GET /metrics alone on Addr: the scrape endpoint of
// a process whatever its roles (metrics.addr). It shows counts only,
// never an ad, a phone or a URL, and answers nothing else.
type MetricsServer struct {
	// Addr is the listen address (host:port).
	Addr     string
	Gatherer prometheus.Gatherer
	Log      *slog.Logger
}

// Run serves until ctx is done.
func (m *MetricsServer) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", m.Addr)
	if err != nil {
		return fmt.Errorf("listening for metrics on %s: %w", m.Addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.Gatherer, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	m.Log.Info("metrics listening", "url", "http://"+ln.Addr().String()+"/metrics")
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
		return fmt.Errorf("serving metrics: %w", err)
	}
}

// recorder registers on a Registry and remembers the name of every metric
// registered through it, including a vector's that has no series yet
// (which the Registry's Gather does not show).
type recorder struct {
	reg   *prometheus.Registry
	mu    sync.Mutex
	names map[string]bool
}

// fqName reads a metric's name out of its description (prometheus.Desc
// has no accessor).
var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

// Register registers c and records its metrics' names.
func (r *recorder) Register(c prometheus.Collector) error {
	if err := r.reg.Register(c); err != nil {
		return err
	}
	descs := make(chan *prometheus.Desc)
	go func() {
		c.Describe(descs)
		close(descs)
	}()
	r.mu.Lock()
	defer r.mu.Unlock()
	for d := range descs {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			r.names[m[1]] = true
		}
	}
	return nil
}

// MustRegister registers cs, panicking on an error as
// prometheus.Registry.MustRegister does.
func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

// Unregister unregisters c; its names stay recorded.
func (r *recorder) Unregister(c prometheus.Collector) bool { return r.reg.Unregister(c) }

// MetricNames returns, sorted, the name of every metric registered so far
// by New and by the stages Build built, whether or not it has a series
// yet: what /metrics may show. A histogram's series add _bucket, _sum
// and _count to its name.
func (a *App) MetricNames() []string {
	a.metrics.mu.Lock()
	defer a.metrics.mu.Unlock()
	return slices.Sorted(maps.Keys(a.metrics.names))
}
