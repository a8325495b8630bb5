// Package web serves adwatch's workspace: the pages and JSON API over the
// index, behind accounts, roles and the audit log, and the Prometheus
// metrics. It binds beyond loopback only with TLS or a trusted proxy
// configured and accounts in place.
package web

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/adwatch/adwatch/alerts"
	"github.com/adwatch/adwatch/audit"
	"github.com/adwatch/adwatch/auth"
	"github.com/adwatch/adwatch/cases"
	"github.com/adwatch/adwatch/extractor/phone"
	"github.com/adwatch/adwatch/indexer"
	"github.com/adwatch/adwatch/internal/config"
)

//go:embed index.html
var indexHTML []byte

//go:embed app.js
var appJS []byte

// Server is the web UI and API. Every route but the login, its page
// assets and the metrics needs a login, and each the permission of its
// role (see Routes); what a user sees, searches, exports and changes is
// written to the audit log before it is answered.
type Server struct {
	// Addr is the listen address (host:port). Beyond loopback only with
	// TLS or a trusted proxy configured, and accounts in Users.
	Addr   string
	Index  *indexer.Index
	Config *config.Config
	// Users holds the accounts and sessions.
	Users *auth.Store
	// Audit is the audit log every view and change is written to.
	Audit *audit.Log
	// Cases holds the investigators' cases.
	Cases  *cases.Store
	Alerts jetstream.KeyValue
	// Units are the units of the alerts file, for the inbox's unit filter.
	Units     []alerts.Unit
	Watchlist jetstream.KeyValue
	// JS lists the dead letters.
	JS jetstream.JetStream
	// Images holds the ads' image bytes by SHA-256.
	Images   jetstream.ObjectStore
	Gatherer prometheus.Gatherer
	// Metrics counts and times the requests by route; nil counts
	// nothing.
	Metrics *Metrics
	Log     *slog.Logger
	// TokenFile, when set, is where Run writes the command-line token
	// (owner-only): the read commands on this machine send it to read
	// through the API while this process holds the index.
	TokenFile string
	// Now is the clock (time.Now when nil).
	Now func() time.Time

	// Pages is the stream of captured pages (ADWATCH_PAGES), for an
	// ad's capture; without it captures answer 503.
	Pages jetstream.Stream

	// phones read numbers in the config's region, then in each site's
	// country.
	phones   []*phone.Extractor
	cliToken string
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// page routes serve the workspace's one page shell; its script draws
// the page the URL names.
func (s *Server) shell(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(indexHTML)
}

// routes is the one table of every route and who may use it. A route
// added anywhere else is not served.
func (s *Server) routes() []route {
	any := func(p ...auth.Permission) []auth.Permission { return p }
	rt := []route{
		// Public: the login and what its page loads.
		{"GET /login", any(public), "", func(w http.ResponseWriter, _ *http.Request) { s.loginPage(w, http.StatusOK) }},
		{"GET /login.js", any(public), "", static("text/javascript; charset=utf-8", loginJS)},
		{"GET /style.css", any(public), "", static("text/css; charset=utf-8", styleCSS)},
		{"POST /api/login", any(public), "", s.login},

		{"POST /api/logout", any(signedIn), "", s.logout},
		{"GET /api/me", any(signedIn), "", s.me},
		{"GET /{$}", any(signedIn), "", s.shell},
		{"GET /app.js", any(signedIn), "", static("text/javascript; charset=utf-8", appJS)},
		{"GET /js/{file}", any(signedIn), "", s.script},

		// The workspace's pages: one shell, drawn by its script from the URL.
		{"GET /search", any(auth.PermSearch), "", s.shell},
		{"GET /profiles/{id}", any(auth.PermProfiles), "", s.shell},
		{"GET /ads/{id}", any(auth.PermAds), "", s.shell},
		{"GET /networks/{id}", any(auth.PermNetworks), "", s.shell},
		{"GET /alerts", any(auth.PermAlertSummaries), "", s.shell},
		{"GET /alerts/{key}", any(auth.PermAlertTriage), "", s.shell},
		{"GET /watchlist", any(auth.PermWatchlist), "", s.shell},
		{"GET /trends", any(auth.PermTrends), "", s.shell},
		{"GET /audit", any(auth.PermAuditUnit, auth.PermAuditAll), "", s.shell},
		{"GET /cases", any(auth.PermCases), "", s.shell},
		{"GET /cases/{number}", any(auth.PermCases), "", s.shell},

		{"GET /api/search", any(auth.PermSearch), audit.ActionSearch, s.search},
		{"POST /api/search/image", any(auth.PermSearch), audit.ActionSearch, s.searchImage},
		{"GET /api/ads/{id}", any(auth.PermAds), audit.ActionViewAd, s.adByID},
		{"GET /api/ads/{id}/capture", any(auth.PermAds), audit.ActionViewAd, s.adCapture},
		{"GET /api/profiles/{id}", any(auth.PermProfiles), audit.ActionViewProfile, s.profile},
		{"GET /api/networks/{id}", any(auth.PermNetworks), audit.ActionViewNetwork, s.network},
		{"GET /api/networks/{id}/graph.svg", any(auth.PermNetworks), audit.ActionViewNetwork, s.networkGraph},
		{"GET /api/images/{sha256}", any(auth.PermPhotos), audit.ActionViewImage, s.image},
		{"GET /api/export/ads", any(auth.PermExport), audit.ActionExport, s.exportAds},

		{"GET /api/snapshot", any(auth.PermTrends), "", s.snapshot},
		{"GET /api/trends", any(auth.PermTrends), "", s.trends},

		{"GET /api/alerts", any(auth.PermAlertSummaries), "", s.alerts},
		{"GET /api/alerts/{key}", any(auth.PermAlertTriage), "", s.alert},
		{"POST /api/alerts/{key}/status", any(auth.PermAlertTriage), "", s.alertStatus},
		{"POST /api/alerts/{key}/assign", any(auth.PermAssign), "", s.assignAlert},
		{"GET /api/watchlist", any(auth.PermWatchlist), "", s.watchlist},
		{"POST /api/watchlist", any(auth.PermWatchlist), "", s.addWatch},
		{"DELETE /api/watchlist", any(auth.PermWatchlist), "", s.removeWatch},

		{"GET /api/audit", any(auth.PermAuditUnit, auth.PermAuditAll), "", s.auditLog},
		{"GET /api/dead", any(auth.PermDeadLetters), "", s.deadLetters},

		{"GET /api/cases", any(auth.PermCases), "", s.listCases},
		{"POST /api/cases", any(auth.PermCases), "", s.createCase},
		{"GET /api/cases/{number}", any(auth.PermCases), "", s.getCase},
		{"POST /api/cases/{number}", any(auth.PermCases), "", s.changeCase},
		{"GET /api/cases/{number}/export", any(auth.PermExport), audit.ActionExport, s.exportCase},
	}
	if s.Gatherer != nil {
		h := promhttp.HandlerFor(s.Gatherer, promhttp.HandlerOpts{})
		rt = append(rt, route{"GET /metrics", any(public), "", h.ServeHTTP})
	}
	return rt
}

// Handler returns the routes, each behind its access rule, behind the
// guard.
func (s *Server) Handler() http.Handler {
	s.phones = []*phone.Extractor{phone.New(s.Config.Region)}
	seen := map[string]bool{strings.ToUpper(s.Config.Region): true}
	for _, st := range s.Config.Sites {
		if c := strings.ToUpper(st.Country); c != "" && !seen[c] {
			seen[c] = true
			s.phones = append(s.phones, phone.New(c))
		}
	}
	mux := http.NewServeMux()
	for _, rt := range s.routes() {
		mux.HandleFunc(rt.pattern, s.allow(rt))
	}
	var h http.Handler = mux
	if s.Metrics != nil {
		h = s.Metrics.instrument(mux)
	}
	return guard(h, s.names())
}

// static serves one file embedded in the binary.
func static(contentType string, body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", contentType)
		_, _ = w.Write(body)
	}
}

// names are the host names the server answers to besides loopback and
// localhost: the public URL's host and serve.names.
func (s *Server) names() []string {
	names := slices.Clone(s.Config.Serve.Names)
	if u, err := url.Parse(s.Config.Serve.PublicURL); err == nil && u.Hostname() != "" {
		names = append(names, u.Hostname())
	}
	return names
}

// ErrNoAccounts is returned by Run for an address beyond loopback while
// no account exists.
var ErrNoAccounts = errors.New("no accounts yet: add one with adwatch user add")

// Run serves on s.Addr until ctx is done. An address beyond loopback needs
// TLS or a trusted proxy in the config and at least one account.
func (s *Server) Run(ctx context.Context) error {
	addr := s.Addr
	if s.Users == nil || s.Audit == nil {
		return errors.New("the web server needs the accounts and the audit log (the message bus)")
	}
	if !config.IsLoopback(addr) {
		if !s.Config.Serve.BeyondLoopback() {
			return fmt.Errorf("serving on %s: beyond loopback adwatch needs serve.tls_cert and serve.tls_key, or serve.behind_proxy", addr)
		}
		users, err := s.Users.List(ctx)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(users, func(u auth.User) bool { return !u.Disabled }) {
			return fmt.Errorf("serving on %s: %w", addr, ErrNoAccounts)
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	if s.TokenFile != "" {
		if err := s.writeToken(); err != nil {
			ln.Close()
			return err
		}
		defer os.Remove(s.TokenFile)
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	tlsOn := s.Config.Serve.TLSCert != ""
	scheme := "http"
	if tlsOn {
		scheme = "https"
	}
	s.Log.Info("web UI and API listening", "url", scheme+"://"+ln.Addr().String())
	errc := make(chan error, 1)
	go func() {
		if tlsOn {
			errc <- srv.ServeTLS(ln, s.Config.Serve.TLSCert, s.Config.Serve.TLSKey)
			return
		}
		errc <- srv.Serve(ln)
	}()
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

// writeToken makes a fresh command-line token and writes it to
// s.TokenFile, readable by the owner only.
func (s *Server) writeToken() error {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	token := base64.RawURLEncoding.EncodeToString(b)
	tmp := s.TokenFile + ".tmp"
	if err := os.WriteFile(tmp, []byte(token+"\n"), 0o600); err != nil {
		return fmt.Errorf("writing the command-line token: %w", err)
	}
	if err := os.Rename(tmp, s.TokenFile); err != nil {
		return fmt.Errorf("writing the command-line token: %w", err)
	}
	s.cliToken = token
	return nil
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
