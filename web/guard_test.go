package web

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/adwatch/adwatch/internal/bus/bustest"
	"github.com/adwatch/adwatch/internal/record"
)

// TestGuard sends what a page on another site could send: a rebound Host,
// a cross-site POST, a form posing as JSON. Each is refused, and the
// same request from this origin passes.
func TestGuard(t *testing.T) {
	b := bustest.New(t)
	data, _ := json.Marshal(record.Alert{Key: "possible_minor.p1", Rule: "possible_minor", Severity: "critical",
		Entity: "profile:P1", Summary: "stated age 17", Status: record.StatusNew})
	if _, err := b.Alerts.Put(context.Background(), "possible_minor.p1", data); err != nil {
		t.Fatal(err)
	}
	ts := serve(t, openIndex(t), b)
	body := `{"status":"dismissed","by":"det. lee"}`
	for _, tc := range []struct {
		name, method, path, host string
		header                   map[string]string
		body                     string
		want                     int
	}{
		{"page", "GET", "/", "", nil, "", http.StatusOK},
		{"localhost by name", "GET", "/", "localhost:8080", nil, "", http.StatusOK},
		{"a name rebound to loopback", "GET", "/api/export/ads", "rebind.example:8080", nil, "", http.StatusMisdirectedRequest},
		{"a name starting with 127.", "GET", "/api/snapshot?city=Oakland&date=2020-10-02", "127.0.0.1.example:8080", nil, "", http.StatusMisdirectedRequest},
		{"cross-site POST", "POST", "/api/alerts/possible_minor.p1/status", "",
			map[string]string{"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"}, body, http.StatusForbidden},
		{"POST from another origin", "POST", "/api/alerts/possible_minor.p1/status", "",
			map[string]string{"Content-Type": "application/json", "Origin": "http://evil.example"}, body, http.StatusForbidden},
		{"a form posing as JSON", "POST", "/api/alerts/possible_minor.p1/status", "",
			map[string]string{"Content-Type": "text/plain"}, body, http.StatusUnsupportedMediaType},
		{"same origin", "POST", "/api/alerts/possible_minor.p1/status", "",
			map[string]string{"Content-Type": "application/json", "Sec-Fetch-Site": "same-origin"}, body, http.StatusOK},
	} {
		req, err := http.NewRequest(tc.method, ts.URL+tc.path, strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		if tc.host != "" {
			req.Host = tc.host
		}
		for k, v := range tc.header {
			req.Header.Set(k, v)
		}
		// The session cookie, whatever the Host says.
		u, _ := url.Parse(ts.URL)
		for _, ck := range ts.c.Jar.Cookies(u) {
			req.AddCookie(ck)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
	}
}

// TestPageHeaders checks that pages forbid inline script and framing and
// send no referrer, and that the page itself has no inline script.
func TestPageHeaders(t *testing.T) {
	ts := serve(t, openIndex(t), nil)
	resp, err := ts.c.Get(ts.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "script-src 'self' 'unsafe-inline'") {
		t.Errorf("Content-Security-Policy %q: want script from this server only", csp)
	}
	for k, want := range map[string]string{"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if strings.Contains(string(page), "<script>") || !strings.Contains(string(page), `<script src="/app.js">`) {
		t.Errorf("the page has inline script or no /app.js")
	}
	js, err := ts.c.Get(ts.URL + "/app.js")
	if err != nil {
		t.Fatal(err)
	}
	js.Body.Close()
	if js.StatusCode != http.StatusOK || !strings.HasPrefix(js.Header.Get("Content-Type"), "text/javascript") {
		t.Errorf("/app.js: %d %s", js.StatusCode, js.Header.Get("Content-Type"))
	}
}
