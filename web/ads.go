package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/adwatch/adwatch/internal/record"
)

// ad reads the ad the request's {id} names; it answers 404 or 500 itself
// when there is none.
func (s *Server) ad(w http.ResponseWriter, r *http.Request) (record.Ad, bool) {
	a, ok, err := s.Index.Get(r.PathValue("id"))
	if err != nil {
		writeErr(w, http.StatusInternalServerError, err.Error())
		return a, false
	}
	if !ok {
		writeErr(w, http.StatusNotFound, "no such ad")
	}
	return a, ok
}

func (s *Server) adByID(w http.ResponseWriter, r *http.Request) {
	a, ok := s.ad(w, r)
	if !ok {
		return
	}
	p := s.Index.Linker.Profile(a.ID)
	writeJSON(w, http.StatusOK, map[string]any{"ad": a, "profile": p, "network": s.Index.Linker.Network(p)})
}

func (s *Server) profile(w http.ResponseWriter, r *http.Request) {
	v, ok, err := s.Index.Profile(r.PathValue("id"))
	if err != nil {
		writeErr(w, http.StatusInternalServerError, err.Error())
		return
	}
	if !ok {
		writeErr(w, http.StatusNotFound, "no such profile")
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// image serves one ad image by its SHA-256, only when its bytes are an
// image: the store holds whatever sites served, and a page posing as a
// photo must not run in an investigator's browser.
func (s *Server) image(w http.ResponseWriter, r *http.Request) {
	sha := r.PathValue("sha256")
	if len(sha) != 64 || strings.Trim(sha, "0123456789abcdef") != "" {
		writeErr(w, http.StatusBadRequest, "want the image's SHA-256 in lowercase hex")
		return
	}
	if s.Images == nil {
		writeErr(w, http.StatusServiceUnavailable, "images need the message bus; run adwatch run")
		return
	}
	data, err := s.Images.GetBytes(r.Context(), sha)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		writeErr(w, http.StatusNotFound, "no such image")
		return
	}
	if err != nil {
		writeErr(w, http.StatusInternalServerError, "reading image: "+err.Error())
		return
	}
	ct := http.DetectContentType(data)
	if !strings.HasPrefix(ct, "image/") {
		writeErr(w, http.StatusUnsupportedMediaType, "the stored file is not an image ("+ct+")")
		return
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "private, max-age=3600")
	_, _ = w.Write(data)
}
