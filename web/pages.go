package web

import (
	"embed"
	"net/http"
	"strings"
)

// pageScripts are the workspace's page scripts, served under /js/: one
// file per page or group of pages, loaded by index.html after /app.js
// (the shared helpers and the router).
//
//go:embed js/*.js
var pageScripts embed.FS

// script serves one of pageScripts by its file name (GET /js/{file}).
func (s *Server) script(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	if !strings.HasSuffix(name, ".js") || strings.ContainsAny(name, "/\\") {
		writeErr(w, http.StatusNotFound, "no such script")
		return
	}
	data, err := pageScripts.ReadFile("js/" + name)
	if err != nil {
		writeErr(w, http.StatusNotFound, "no such script")
		return
	}
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(data)
}
