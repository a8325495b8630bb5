package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the web server's Prometheus metrics. A request is labelled
// with the pattern of its route in the routes table ("GET /api/ads/{id}"),
// never its path, so no searched phone, ad or profile is ever a label;
// a request that matches no route is "unmatched".
type Metrics struct {
	// Requests counts requests by route and status code.
	Requests *prometheus.CounterVec
	// Duration is the time to answer a request, by route.
	Duration *prometheus.HistogramVec
}

// NewMetrics registers the web server's metrics on reg (nil registers
// nothing).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "adwatch_http_requests_total",
			Help: "HTTP requests answered, by route pattern and status code."}, []string{"route", "code"}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "adwatch_http_request_seconds",
			Help: "Time to answer an HTTP request, by route pattern.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 15)}, []string{"route"}),
	}
	if reg != nil {
		reg.MustRegister(m.Requests, m.Duration)
	}
	return m
}

// unmatched is the route label of a request that matches no route.
const unmatched = "unmatched"

// instrument counts and times every request mux answers, by the pattern
// of the route mux chose (which it sets on the request).
func (m *Metrics) instrument(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		mux.ServeHTTP(rec, r)
		route := r.Pattern
		if route == "" {
			route = unmatched
		}
		m.Requests.WithLabelValues(route, strconv.Itoa(rec.code)).Inc()
		m.Duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

// statusRecorder remembers the status code written through it.
type statusRecorder struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.code, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

// Flush passes a flush on, for streamed answers.
func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the writer underneath.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
