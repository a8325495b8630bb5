package web

import (
	"context"
	"crypto/subtle"
	"errors"
	"net"
	"net/http"
	"strings"

	"github.com/adwatch/adwatch/audit"
	"github.com/adwatch/adwatch/auth"
)

// SessionCookie is the name of the login cookie.
const SessionCookie = "adwatch_session"

// Access rules a route may have besides a permission.
const (
	// public routes need no login: the login page and its script and
	// styles, the login itself, and the metrics.
	public auth.Permission = "public"
	// signedIn routes need a login and nothing more (the start page,
	// logout, who am I).
	signedIn auth.Permission = "signed-in"
)

// route is one registered route: its pattern, who may use it, and the
// audit action a granted request writes before it is answered (empty
// when the handler writes its own entry, or none is due).
type route struct {
	pattern string
	// perms: any one of them grants the route.
	perms  []auth.Permission
	action string
	h      http.HandlerFunc
}

// Route describes a registered route for tests and documentation.
type Route struct {
	Pattern string
	Perms   []auth.Permission
	Action  string
}

// Routes lists every route the server registers, with who may use it.
func (s *Server) Routes() []Route {
	var out []Route
	for _, r := range s.routes() {
		out = append(out, Route{Pattern: r.pattern, Perms: r.perms, Action: r.action})
	}
	return out
}

// principal is who is making a request.
type principal struct {
	User string
	Role auth.Role
	// token is the session token (empty for the command-line token).
	token string
	// cli is the data dir owner's command-line token: read routes only.
	cli bool
}

type principalKey struct{}

// withPrincipal returns ctx carrying p.
func withPrincipal(ctx context.Context, p principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// who returns the request's principal (set by allow).
func who(r *http.Request) principal {
	p, _ := r.Context().Value(principalKey{}).(principal)
	return p
}

// can reports whether the principal holds any of perms.
func (p principal) can(perms ...auth.Permission) bool {
	for _, pm := range perms {
		if pm == public || (pm == signedIn && p.User != "") || p.Role.Can(pm) {
			return true
		}
	}
	return false
}

// cliUser is the name the command-line token acts under in the audit log.
const cliUser = "cli"

// authenticate finds the principal of r: its session cookie, or a bearer
// token that is a session token or the command-line token. ok is false
// for an anonymous request.
func (s *Server) authenticate(r *http.Request) (principal, bool) {
	token := ""
	if c, err := r.Cookie(SessionCookie); err == nil {
		token = c.Value
	}
	if h := r.Header.Get("Authorization"); token == "" && strings.HasPrefix(h, "Bearer ") {
		token = strings.TrimSpace(strings.TrimPrefix(h, "Bearer "))
		if s.cliToken != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.cliToken)) == 1 {
			return principal{User: cliUser, Role: auth.Investigator, cli: true}, true
		}
	}
	if token == "" || s.Users == nil {
		return principal{}, false
	}
	sess, err := s.Users.Lookup(r.Context(), token, s.now())
	if err != nil {
		if !errors.Is(err, auth.ErrNoSession) {
			s.Log.Warn("looking up a session", "err", err)
		}
		return principal{}, false
	}
	return principal{User: sess.User, Role: sess.Role, token: token}, true
}

// allow wraps a route's handler with its access rule: 401 without a
// login, 403 without the permission (audited when the route has an
// action), and, for a granted route with an action, the audit entry
// written before anything is answered. A request that cannot be audited
// is not answered.
func (s *Server) allow(rt route) http.HandlerFunc {
	isPublic := len(rt.perms) == 1 && rt.perms[0] == public
	return func(w http.ResponseWriter, r *http.Request) {
		if isPublic {
			rt.h(w, r)
			return
		}
		p, ok := s.authenticate(r)
		if !ok {
			s.unauthorized(w, r)
			return
		}
		r = r.WithContext(withPrincipal(r.Context(), p))
		if p.cli && r.Method != http.MethodGet {
			writeErr(w, http.StatusForbidden, "the command-line token reads only")
			return
		}
		if !p.can(rt.perms...) {
			if rt.action != "" {
				_ = s.audit(r, rt.action, audit.OutcomeDenied, r.PathValue("id"), "")
			}
			s.forbidden(w, r)
			return
		}
		if rt.action != "" {
			if err := s.audit(r, rt.action, audit.OutcomeOK, objectOf(r), queryOf(r)); err != nil {
				s.Log.Error("writing the audit log; request refused", "err", err)
				writeErr(w, http.StatusServiceUnavailable, "the audit log cannot be written; nothing is shown until it can")
				return
			}
		}
		rt.h(w, r)
	}
}

// objectOf is the object a request names: its id or SHA-256 path value.
func objectOf(r *http.Request) string {
	for _, k := range []string{"id", "sha256", "key", "number"} {
		if v := r.PathValue(k); v != "" {
			return v
		}
	}
	return ""
}

// queryOf is what a request asked for, for the audit log: the search
// words, or the export filter.
func queryOf(r *http.Request) string {
	q := r.URL.Query()
	if v := q.Get("q"); v != "" {
		return v
	}
	q.Del("case")
	return q.Encode()
}

// audit appends one entry about r's principal. object and query may be
// empty; the case number comes from the request's "case" parameter.
func (s *Server) audit(r *http.Request, action, outcome, object, query string) error {
	if s.Audit == nil {
		return errors.New("no audit log")
	}
	p := who(r)
	_, err := s.Audit.Append(r.Context(), audit.Entry{
		At: s.now(), User: p.User, Role: string(p.Role), From: s.clientAddr(r),
		Action: action, Object: object, Query: query, Case: r.URL.Query().Get("case"), Outcome: outcome,
	})
	return err
}

// clientAddr is where a request came from: the remote address, or, from
// the trusted proxy, the last address it appended to X-Forwarded-For.
func (s *Server) clientAddr(r *http.Request) string {
	host := hostOf(r.RemoteAddr)
	if s.fromProxy(r) {
		if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
			parts := strings.Split(xff, ",")
			if last := strings.TrimSpace(parts[len(parts)-1]); net.ParseIP(last) != nil {
				return last
			}
		}
	}
	return host
}

// hostOf is the host of a host:port address.
func hostOf(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return host
}

// fromProxy reports whether r came through the trusted proxy.
func (s *Server) fromProxy(r *http.Request) bool {
	proxy := s.Config.Serve.BehindProxy
	return proxy != "" && net.ParseIP(hostOf(r.RemoteAddr)).Equal(net.ParseIP(proxy))
}

// wantsHTML reports whether a request is a page load rather than an API
// call.
func wantsHTML(r *http.Request) bool {
	return !strings.HasPrefix(r.URL.Path, "/api/") && strings.Contains(r.Header.Get("Accept"), "text/html")
}

// unauthorized answers 401: the login page for a page load, JSON for the
// API.
func (s *Server) unauthorized(w http.ResponseWriter, r *http.Request) {
	if wantsHTML(r) {
		s.loginPage(w, http.StatusUnauthorized)
		return
	}
	writeErr(w, http.StatusUnauthorized, "log in first (POST /api/login)")
}

// forbidden answers 403.
func (s *Server) forbidden(w http.ResponseWriter, r *http.Request) {
	msg := "your role (" + string(who(r).Role) + ") may not open this"
	if wantsHTML(r) {
		s.page(w, http.StatusForbidden, "Not for your role", msg)
		return
	}
	writeErr(w, http.StatusForbidden, msg)
}
