package web

import (
	"mime"
	"net"
	"net/http"
	"strings"
)

// contentSecurityPolicy lets pages load only this server's script, styles
// and images: no inline script, no frames, nothing from the internet.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// guard wraps the routes with what keeps other sites out of them:
//   - a request whose Host is not a name of this server is refused (421),
//     so a page on another site that rebinds its name to 127.0.0.1 cannot
//     read the API;
//   - state-changing requests must come from this origin (Go's
//     http.CrossOriginProtection: Sec-Fetch-Site, else Origin against Host),
//     so a page elsewhere cannot change an alert or the watchlist;
//   - every answer says not to be framed, sniffed or referred, and pages
//     run no inline script.
func guard(next http.Handler, names []string) http.Handler {
	cop := http.NewCrossOriginProtection()
	protected := cop.Handler(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !ownHost(r.Host, names) {
			http.Error(w, "this server answers only to its own names", http.StatusMisdirectedRequest)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Content-Type-Options", "nosniff")
		protected.ServeHTTP(w, r)
	})
}

// ownHost reports whether the Host header names this server: localhost, a
// loopback address, or one of names (serve.public_url's host and
// serve.names), with any port.
func ownHost(hostport string, names []string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	for _, n := range names {
		if strings.EqualFold(host, n) {
			return true
		}
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// isJSON reports whether the request says its body is JSON.
func isJSON(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/json"
}
