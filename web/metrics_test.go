package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/adwatch/adwatch/auth"
)

// TestRequestMetrics: each request is counted under its route's pattern
// and status code, never its path (a searched phone stays out of the
// labels), and timed by route.
func TestRequestMetrics(t *testing.T) {
	base := testServer(t)
	reg := prometheus.NewRegistry()
	base.srv.Metrics = NewMetrics(reg)
	base.srv.Gatherer = reg
	ts := httptest.NewServer(base.srv.Handler())
	t.Cleanup(ts.Close)
	st := &site{Server: ts, srv: base.srv, b: base.b}
	inv := st.as(t, auth.Investigator)
	ana := st.as(t, auth.Analyst)

	for _, tc := range []struct {
		client *http.Client
		path   string
		code   int
	}{
		{inv, "/api/search?q=5108730123", http.StatusOK},
		{inv, "/api/search?q=4085550123", http.StatusOK},
		{inv, "/api/ads/s:1", http.StatusOK},
		{inv, "/api/ads/s:404", http.StatusNotFound},
		{ana, "/api/ads/s:1", http.StatusForbidden},
		{http.DefaultClient, "/api/me", http.StatusUnauthorized},
		{inv, "/no/such/page", http.StatusNotFound},
		{http.DefaultClient, "/metrics", http.StatusOK},
	} {
		resp, err := tc.client.Get(ts.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.code {
			t.Fatalf("GET %s: %d, want %d", tc.path, resp.StatusCode, tc.code)
		}
	}
	m := base.srv.Metrics
	for _, tc := range []struct {
		route, code string
		want        float64
	}{
		{"GET /api/search", "200", 2},
		{"GET /api/ads/{id}", "200", 1},
		{"GET /api/ads/{id}", "404", 1},
		{"GET /api/ads/{id}", "403", 1},
		{"GET /api/me", "401", 1},
		{"POST /api/login", "200", 2},
		{unmatched, "404", 1},
		{"GET /metrics", "200", 1},
	} {
		if got := testutil.ToFloat64(m.Requests.WithLabelValues(tc.route, tc.code)); got != tc.want {
			t.Errorf("requests{route=%q,code=%s} = %v, want %v", tc.route, tc.code, got, tc.want)
		}
	}
	if n := testutil.CollectAndCount(m.Duration); n != 6 {
		t.Errorf("latency histograms: %d routes, want 6", n)
	}
	// No label holds a path or a phone.
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		for _, metric := range f.GetMetric() {
			for _, l := range metric.GetLabel() {
				if strings.Contains(l.GetValue(), "510") || strings.Contains(l.GetValue(), "s:1") {
					t.Errorf("%s: label %s=%q holds what was requested", f.GetName(), l.GetName(), l.GetValue())
				}
			}
		}
	}
}
