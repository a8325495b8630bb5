package web

import (
	_ "embed"
	"errors"
	"html/template"
	"mime"
	"net/http"
	"strings"

	"github.com/adwatch/adwatch/audit"
	"github.com/adwatch/adwatch/auth"
)

//go:embed login.html
var loginHTML string

//go:embed login.js
var loginJS []byte

//go:embed style.css
var styleCSS []byte

// pageTemplate renders the login page and the plain pages (errors).
var pageTemplate = template.Must(template.New("login").Parse(loginHTML))

// pageData fills pageTemplate.
type pageData struct {
	Title, Message, Banner string
	Login                  bool
}

// loginPage answers with the login form and the use banner.
func (s *Server) loginPage(w http.ResponseWriter, code int) {
	s.render(w, code, pageData{Title: "Log in", Banner: s.Config.Serve.Banner, Login: true})
}

// page answers with a plain page: a title and a message.
func (s *Server) page(w http.ResponseWriter, code int, title, msg string) {
	s.render(w, code, pageData{Title: title, Message: msg})
}

func (s *Server) render(w http.ResponseWriter, code int, d pageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	if err := pageTemplate.Execute(w, d); err != nil {
		s.Log.Error("rendering a page", "err", err)
	}
}

// Credentials is the body of POST /api/login.
type Credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// Me is who is logged in: the answer of POST /api/login and GET /api/me.
type Me struct {
	User string    `json:"user"`
	Role auth.Role `json:"role"`
	// Can lists the permissions of the role, for the page to show only
	// what the user may open.
	Can []auth.Permission `json:"can"`
}

func meOf(user string, role auth.Role) Me {
	m := Me{User: user, Role: role, Can: []auth.Permission{}}
	for _, p := range auth.Permissions() {
		if role.Can(p) {
			m.Can = append(m.Can, p)
		}
	}
	return m
}

// login checks a user name and password (JSON, or a form) and starts a
// session: the cookie is HttpOnly, SameSite=Strict, and Secure over TLS.
// Every attempt is audited; a wrong name and a wrong password answer
// alike.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var c Credentials
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/json":
		if !decodeBody(w, r, &c) {
			return
		}
	case "application/x-www-form-urlencoded", "multipart/form-data":
		r.Body = http.MaxBytesReader(w, r.Body, 1<<16)
		c.Username, c.Password = r.PostFormValue("username"), r.PostFormValue("password")
	default:
		writeErr(w, http.StatusUnsupportedMediaType, "body: want JSON {\"username\",\"password\"} or a form")
		return
	}
	c.Username = strings.TrimSpace(c.Username)
	if s.Users == nil {
		writeErr(w, http.StatusServiceUnavailable, "accounts need the message bus")
		return
	}
	now := s.now()
	u, err := s.Users.Authenticate(r.Context(), c.Username, c.Password, now)
	if err != nil {
		outcome, code, msg := audit.OutcomeFailed, http.StatusUnauthorized, "wrong user name or password"
		switch {
		case errors.Is(err, auth.ErrLocked):
			outcome, msg = audit.OutcomeDenied, auth.ErrLocked.Error()
		case errors.Is(err, auth.ErrDisabled):
			outcome, msg = audit.OutcomeDenied, "this account is disabled"
		case !errors.Is(err, auth.ErrBadCredentials):
			s.Log.Error("checking a login", "err", err)
			code, msg = http.StatusInternalServerError, "the login could not be checked"
		}
		ar := r.WithContext(withPrincipal(r.Context(), principal{User: c.Username}))
		if aerr := s.audit(ar, audit.ActionLoginFailed, outcome, "", ""); aerr != nil {
			s.Log.Error("writing the audit log", "err", aerr)
		}
		writeErr(w, code, msg)
		return
	}
	ar := r.WithContext(withPrincipal(r.Context(), principal{User: u.Name, Role: u.Role}))
	if err := s.audit(ar, audit.ActionLogin, audit.OutcomeOK, "", ""); err != nil {
		s.Log.Error("writing the audit log; login refused", "err", err)
		writeErr(w, http.StatusServiceUnavailable, "the audit log cannot be written; no login until it can")
		return
	}
	token, err := s.Users.NewSession(r.Context(), u, now)
	if err != nil {
		s.Log.Error("starting a session", "err", err)
		writeErr(w, http.StatusInternalServerError, "the session could not be started")
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: s.secure(r), MaxAge: int(auth.MaxLifetime.Seconds()),
	})
	writeJSON(w, http.StatusOK, meOf(u.Name, u.Role))
}

// secure reports whether the request came over TLS, directly or through
// the trusted proxy.
func (s *Server) secure(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	return s.fromProxy(r) && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// logout ends the session and clears the cookie.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	p := who(r)
	if p.token != "" {
		if err := s.Users.Revoke(r.Context(), p.token); err != nil {
			s.Log.Error("ending a session", "err", err)
		}
	}
	if err := s.audit(r, audit.ActionLogout, audit.OutcomeOK, "", ""); err != nil {
		s.Log.Error("writing the audit log", "err", err)
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: s.secure(r), MaxAge: -1})
	writeJSON(w, http.StatusOK, map[string]string{"status": "logged out"})
}

// me answers who is logged in.
func (s *Server) me(w http.ResponseWriter, r *http.Request) {
	p := who(r)
	writeJSON(w, http.StatusOK, meOf(p.User, p.Role))
}
