package web

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/adwatch/adwatch/audit"
	"github.com/adwatch/adwatch/auth"
	"github.com/adwatch/adwatch/internal/config"
)

// routeAccess is who may use each route, written out here apart from the
// server's own table: "public", "signed-in", or the initials of the
// roles (a analyst, i investigator, s supervisor, d admin). A route the
// server registers without a row here fails TestRouteAccess.
var routeAccess = map[string]string{
	"GET /login":                     "public",
	"GET /login.js":                  "public",
	"GET /style.css":                 "public",
	"POST /api/login":                "public",
	"GET /metrics":                   "public",
	"POST /api/logout":               "signed-in",
	"GET /api/me":                    "signed-in",
	"GET /{$}":                       "signed-in",
	"GET /app.js":                    "signed-in",
	"GET /js/{file}":                 "signed-in",
	"GET /search":                    "is",
	"GET /profiles/{id}":             "is",
	"GET /ads/{id}":                  "is",
	"GET /networks/{id}":             "is",
	"GET /alerts":                    "ais",
	"GET /alerts/{key}":              "is",
	"GET /watchlist":                 "is",
	"GET /trends":                    "ais",
	"GET /audit":                     "sd",
	"GET /api/search":                "is",
	"POST /api/search/image":         "is",
	"GET /api/ads/{id}":              "is",
	"GET /api/profiles/{id}":         "is",
	"GET /api/images/{sha256}":       "is",
	"GET /api/export/ads":            "is",
	"GET /api/snapshot":              "ais",
	"GET /api/trends":                "ais",
	"GET /api/alerts":                "ais",
	"POST /api/alerts/{key}/status":  "is",
	"GET /api/alerts/{key}":          "is",
	"POST /api/alerts/{key}/assign":  "s",
	"GET /api/watchlist":             "is",
	"POST /api/watchlist":            "is",
	"DELETE /api/watchlist":          "is",
	"GET /api/dead":                  "sd",
	"GET /api/audit":                 "sd",
	"GET /cases":                     "is",
	"GET /cases/{number}":            "is",
	"GET /api/cases":                 "is",
	"POST /api/cases":                "is",
	"GET /api/cases/{number}":        "is",
	"POST /api/cases/{number}":       "is",
	"GET /api/cases/{number}/export": "is",

	// Networks and captures.
	"GET /api/networks/{id}":           "is",
	"GET /api/networks/{id}/graph.svg": "is",
	"GET /api/ads/{id}/capture":        "is",
}

var initials = map[auth.Role]string{auth.Analyst: "a", auth.Investigator: "i", auth.Supervisor: "s", auth.Admin: "d"}

// concrete turns a route pattern into a request: its method and a path
// with every wildcard filled.
func concrete(pattern string) (string, string) {
	method, path, _ := strings.Cut(pattern, " ")
	r := strings.NewReplacer("{$}", "", "{id}", "x1", "{key}", "k1", "{sha256}", strings.Repeat("ab", 32), "{number}", "2026-1")
	return method, r.Replace(path)
}

// TestRouteAccess walks every registered route as nobody and as each
// role: anonymous gets 401 (unless the route is public), a role without
// the permission 403, a role with it neither.
func TestRouteAccess(t *testing.T) {
	ts := serve(t, openIndex(t), nil)
	ts.srv.Gatherer = nil
	routes := ts.srv.Routes()
	// Logging out ends the client's session: test it last.
	slices.SortStableFunc(routes, func(a, b Route) int {
		return boolInt(a.Pattern == "POST /api/logout") - boolInt(b.Pattern == "POST /api/logout")
	})
	clients := map[auth.Role]*http.Client{}
	for _, r := range auth.Roles() {
		clients[r] = ts.as(t, r)
	}
	seen := map[string]bool{}
	for _, rt := range routes {
		seen[rt.Pattern] = true
		rule, ok := routeAccess[rt.Pattern]
		if !ok {
			t.Errorf("route %s has no row in routeAccess: say who may use it", rt.Pattern)
			continue
		}
		method, path := concrete(rt.Pattern)
		do := func(c *http.Client) int {
			req, _ := http.NewRequest(method, ts.URL+path, strings.NewReader("{}"))
			req.Header.Set("Content-Type", "application/json")
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return resp.StatusCode
		}
		anon := do(&http.Client{})
		if rule == "public" {
			// The login answers a wrong login with 401, as it should.
			if anon == http.StatusForbidden || (anon == http.StatusUnauthorized && rt.Pattern != "POST /api/login") {
				t.Errorf("%s anonymous: %d, want it public", rt.Pattern, anon)
			}
			continue
		}
		if anon != http.StatusUnauthorized {
			t.Errorf("%s anonymous: %d, want 401", rt.Pattern, anon)
		}
		for _, role := range auth.Roles() {
			allowed := rule == "signed-in" || strings.Contains(rule, initials[role])
			got := do(clients[role])
			switch {
			case allowed && (got == http.StatusUnauthorized || got == http.StatusForbidden):
				t.Errorf("%s as %s: %d, want it allowed", rt.Pattern, role, got)
			case !allowed && got != http.StatusForbidden:
				t.Errorf("%s as %s: %d, want 403", rt.Pattern, role, got)
			}
		}
	}
	for p := range routeAccess {
		if !seen[p] && p != "GET /metrics" {
			t.Errorf("routeAccess lists %s, which the server does not register", p)
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestLogin: a JSON login and a form login set an HttpOnly, SameSite=Strict
// cookie; a wrong password is a 401 and audited; five failures lock the
// account, and the lockout is audited too; logout ends the session.
func TestLogin(t *testing.T) {
	ts := serve(t, openIndex(t), nil)
	post := func(ct, body string) *http.Response {
		resp, err := http.Post(ts.URL+"/api/login", ct, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := post("application/json", `{"username":"ivy","password":"`+testPassword+`"}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("JSON login: %d", resp.StatusCode)
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == SessionCookie {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Secure || len(cookie.Value) < 40 {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, not Secure over plain HTTP", cookie)
	}
	form := url.Values{"username": {"ana"}, "password": {testPassword}}.Encode()
	if r := post("application/x-www-form-urlencoded", form); r.StatusCode != http.StatusOK {
		t.Errorf("form login: %d", r.StatusCode)
	}
	if r := post("text/plain", `{"username":"ivy"}`); r.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain login: %d, want 415", r.StatusCode)
	}
	for i := range 5 {
		if r := post("application/json", `{"username":"sam","password":"wrong password here"}`); r.StatusCode != http.StatusUnauthorized {
			t.Errorf("wrong password %d: %d, want 401", i, r.StatusCode)
		}
	}
	if r := post("application/json", `{"username":"sam","password":"`+testPassword+`"}`); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("locked account with the right password: %d, want 401", r.StatusCode)
	}
	if r := post("application/json", `{"username":"nobody","password":"`+testPassword+`"}`); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("unknown user: %d, want 401", r.StatusCode)
	}
	var failed, denied, ok int
	for _, e := range ts.entries(t) {
		switch {
		case e.Action == audit.ActionLoginFailed && e.Outcome == audit.OutcomeFailed:
			failed++
		case e.Action == audit.ActionLoginFailed && e.Outcome == audit.OutcomeDenied && e.User == "sam":
			denied++
		case e.Action == audit.ActionLogin && e.Outcome == audit.OutcomeOK:
			ok++
		}
		if e.From == "" || e.At.IsZero() || e.At.Location() != time.UTC {
			t.Errorf("entry without where or when (UTC): %+v", e)
		}
	}
	// Two logins here and the investigator's of serve.
	if failed != 6 || denied != 1 || ok != 3 {
		t.Errorf("audit: %d failed, %d locked out, %d logins; want 6, 1, 3", failed, denied, ok)
	}

	// Logout ends the session: the same cookie no longer opens anything.
	c := ts.as(t, auth.Investigator)
	u, _ := url.Parse(ts.URL)
	before := c.Jar.Cookies(u)
	r, err := c.Post(ts.URL+"/api/logout", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusOK {
		t.Fatalf("logout: %d", r.StatusCode)
	}
	if len(before) != 1 || len(c.Jar.Cookies(u)) != 0 {
		t.Errorf("cookies before and after logout: %v, %v", before, c.Jar.Cookies(u))
	}
	req, _ := http.NewRequest("GET", ts.URL+"/api/me", nil)
	for _, ck := range before {
		req.AddCookie(ck)
	}
	r, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusUnauthorized {
		t.Errorf("after logout: %d, want 401", r.StatusCode)
	}
}

// TestLoginPage: a page opened without a login answers 401 with the login
// form and the use banner; the API answers 401 in JSON.
func TestLoginPage(t *testing.T) {
	cfg := config.Default()
	cfg.Serve.Banner = "Authorised use by the unit only."
	ts := serveConfig(t, openIndex(t), nil, cfg)
	req, _ := http.NewRequest("GET", ts.URL+"/profiles/P1", nil)
	req.Header.Set("Accept", "text/html")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), `id="login"`) || !strings.Contains(string(body), cfg.Serve.Banner) {
		t.Errorf("page without login: %d %q", resp.StatusCode, body)
	}
	if strings.Contains(string(body), "<script>") {
		t.Errorf("the login page has inline script")
	}
	resp, err = http.Get(ts.URL + "/api/search?q=x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("API without login: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

// TestAuditedViews: a search (with its case number), a profile view, an
// ad view and an export are each in the audit log under the user; a
// refused profile view by an analyst is audited as denied.
func TestAuditedViews(t *testing.T) {
	ts := testServer(t)
	for _, p := range []string{"/api/search?q=" + url.QueryEscape("(510) 873-0123") + "&case=2026-17", "/api/profiles/x1", "/api/ads/s:1", "/api/export/ads?city=Oakland"} {
		resp, err := ts.c.Get(ts.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	resp, err := ts.as(t, auth.Analyst).Get(ts.URL + "/api/profiles/x1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("analyst on a profile: %d, want 403", resp.StatusCode)
	}
	want := []audit.Entry{
		{User: "ivy", Action: audit.ActionSearch, Query: "(510) 873-0123", Case: "2026-17", Outcome: audit.OutcomeOK},
		{User: "ivy", Action: audit.ActionViewProfile, Object: "x1", Outcome: audit.OutcomeOK},
		{User: "ivy", Action: audit.ActionViewAd, Object: "s:1", Outcome: audit.OutcomeOK},
		{User: "ivy", Action: audit.ActionExport, Query: "city=Oakland", Outcome: audit.OutcomeOK},
		{User: "ana", Action: audit.ActionViewProfile, Object: "x1", Outcome: audit.OutcomeDenied},
	}
	got := ts.entries(t)
	for _, w := range want {
		if !slices.ContainsFunc(got, func(e audit.Entry) bool {
			return e.User == w.User && e.Action == w.Action && e.Object == w.Object && e.Query == w.Query && e.Case == w.Case && e.Outcome == w.Outcome
		}) {
			t.Errorf("no audit entry %+v in %+v", w, got)
		}
	}
	if err := audit.VerifyEntries(got); err != nil {
		t.Errorf("the chain does not verify: %v", err)
	}
}

// TestAnalystSeesAlertCounts: an analyst reads how many alerts of each
// rule, never whom they are about.
func TestAnalystSeesAlertCounts(t *testing.T) {
	ts := serve(t, openIndex(t), nil)
	putAlert(t, ts)
	resp, err := ts.as(t, auth.Analyst).Get(ts.URL + "/api/alerts")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"count":1`) || strings.Contains(string(body), "P1") ||
		strings.Contains(string(body), "stated age") {
		t.Errorf("analyst's alerts: %d %s", resp.StatusCode, body)
	}
}

// TestCommandLineToken: the token Run writes is owner-only and reads
// through the API, but changes nothing.
func TestCommandLineToken(t *testing.T) {
	ts := testServer(t)
	ts.srv.TokenFile = filepath.Join(t.TempDir(), "api.token")
	if err := ts.srv.writeToken(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(ts.srv.TokenFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v, want mode 0600", fi, err)
	}
	data, _ := os.ReadFile(ts.srv.TokenFile)
	c := NewClient(ts.URL, strings.TrimSpace(string(data)))
	snap, err := c.Snapshot(context.Background(), "Oakland", "2020-10-02")
	if err != nil || snap.Ads != 2 {
		t.Errorf("snapshot with the token: %+v %v", snap, err)
	}
	if _, err := NewClient(ts.URL, "wrong").Snapshot(context.Background(), "Oakland", "2020-10-02"); err == nil {
		t.Errorf("a wrong token reads")
	}
	req, _ := http.NewRequest("POST", ts.URL+"/api/watchlist", strings.NewReader(`{"kind":"phone","value":"5108730123"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(data)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a change with the command-line token: %d, want 403", resp.StatusCode)
	}
}

// TestBindingBeyondLoopback: beyond loopback adwatch refuses without TLS
// or a trusted proxy, and without accounts.
func TestBindingBeyondLoopback(t *testing.T) {
	ts := serve(t, openIndex(t), nil)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := config.Default()
	s := &Server{Addr: "0.0.0.0:0", Config: &cfg, Users: ts.srv.Users, Audit: ts.srv.Audit, Log: log}
	if err := s.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "tls_cert") {
		t.Errorf("Run on 0.0.0.0 without TLS: %v, want a refusal", err)
	}
	cfg.Serve.BehindProxy = "10.0.0.1"
	// An empty account store: a fresh bus.
	empty := serve(t, openIndex(t), nil)
	for _, name := range testUsers {
		if err := empty.srv.Users.Disable(context.Background(), name); err != nil {
			t.Fatal(err)
		}
	}
	s.Users = empty.srv.Users
	if err := s.Run(context.Background()); !errors.Is(err, ErrNoAccounts) {
		t.Errorf("Run on 0.0.0.0 without accounts: %v, want ErrNoAccounts", err)
	}
}

// putAlert stores one alert about profile P1.
func putAlert(t *testing.T, ts *site) {
	t.Helper()
	data := []byte(`{"key":"possible_minor.p1","rule":"possible_minor","severity":"critical","entity":"profile:P1",` +
		`"summary":"stated age 17","status":"new","profiles":["P1"],"cities":["Oakland"]}`)
	if _, err := ts.b.Alerts.Put(context.Background(), "possible_minor.p1", data); err != nil {
		t.Fatal(err)
	}
}
