package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/adwatch/adwatch/audit"
	"github.com/adwatch/adwatch/auth"
	"github.com/adwatch/adwatch/cases"
	"github.com/adwatch/adwatch/indexer"
	"github.com/adwatch/adwatch/internal/bus"
	"github.com/adwatch/adwatch/internal/bus/bustest"
	"github.com/adwatch/adwatch/internal/config"
)

// testPassword is every test account's password.
const testPassword = "correct horse battery staple"

// testUsers are the test accounts, one per role.
var testUsers = map[auth.Role]string{
	auth.Analyst: "ana", auth.Investigator: "ivy", auth.Supervisor: "sam", auth.Admin: "root",
}

// site is a server under test with its bus, accounts and audit log, and
// c, a client logged in as an investigator.
type site struct {
	*httptest.Server
	srv *Server
	b   *bus.Bus
	c   *http.Client
}

// serve serves idx over b (a fresh embedded JetStream when nil), with one
// account per role, for one test.
func serve(t *testing.T, idx *indexer.Index, b *bus.Bus) *site {
	t.Helper()
	return serveConfig(t, idx, b, config.Default())
}

func serveConfig(t *testing.T, idx *indexer.Index, b *bus.Bus, cfg config.Config) *site {
	t.Helper()
	if b == nil {
		b = bustest.New(t)
	}
	ctx := context.Background()
	users, err := auth.Open(ctx, b.JS, 1)
	if err != nil {
		t.Fatal(err)
	}
	for role, name := range testUsers {
		if err := users.Add(ctx, name, role, testPassword); err != nil {
			t.Fatal(err)
		}
	}
	trail, err := audit.Open(ctx, b.JS, audit.MinRetention, 1)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := cases.Open(ctx, b.JS, 1)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Index: idx, Config: &cfg, Users: users, Audit: trail, Cases: cs, Alerts: b.Alerts, Watchlist: b.Watchlist, Images: b.Images, JS: b.JS,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	st := &site{Server: ts, srv: s, b: b}
	st.c = st.as(t, auth.Investigator)
	return st
}

// as returns a client logged in with role's test account.
func (s *site) as(t *testing.T, role auth.Role) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.Post(s.URL+"/api/login", "application/json",
		strings.NewReader(`{"username":"`+testUsers[role]+`","password":"`+testPassword+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("logging in as %s: %d", role, resp.StatusCode)
	}
	return c
}

// entries returns the audit log.
func (s *site) entries(t *testing.T) []audit.Entry {
	t.Helper()
	list, err := s.srv.Audit.List(context.Background(), audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// loginBrowser logs the browser in with role's test account.
func (s *site) loginBrowser(role auth.Role) chromedp.Tasks {
	return chromedp.Tasks{
		chromedp.Navigate(s.URL + "/login"),
		chromedp.WaitVisible("#username", chromedp.ByID),
		chromedp.SendKeys("#username", testUsers[role], chromedp.ByID),
		chromedp.SendKeys("#password", testPassword, chromedp.ByID),
		chromedp.Submit("#login", chromedp.ByID),
		chromedp.WaitNotPresent("#login", chromedp.ByID),
	}
}
