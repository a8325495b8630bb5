// Package web serves adwatch's JSON API and a minimal search page over the
// index, and the Prometheus metrics. It binds to loopback only until
// accounts and an audit log exist.
package web

import (
	"bufio"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/adwatch/adwatch/alerts"
	"github.com/adwatch/adwatch/extractor/handle"
	"github.com/adwatch/adwatch/extractor/imagehash"
	"github.com/adwatch/adwatch/extractor/phone"
	"github.com/adwatch/adwatch/indexer"
	"github.com/adwatch/adwatch/internal/config"
	"github.com/adwatch/adwatch/internal/record"
	"github.com/adwatch/adwatch/report"
)

//go:embed index.html
var indexHTML []byte

// Server is the web UI and API.
type Server struct {
	// Addr is the listen address (host:port); loopback only.
	Addr   string
	Index  *indexer.Index
	Config *config.Config
	Alerts jetstream.KeyValue // nil when no bus is connected
	Watch  jetstream.KeyValue // nil when no bus is connected
	// Images holds the ads' image bytes by SHA-256; nil when no bus is
	// connected.
	Images   jetstream.ObjectStore
	Gatherer prometheus.Gatherer
	Log      *slog.Logger
	phones   *phone.Extractor
}

// Handler returns the routes.
func (s *Server) Handler() http.Handler {
	s.phones = phone.New(s.Config.Region)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(indexHTML)
	})
	mux.HandleFunc("GET /api/search", s.search)
	mux.HandleFunc("POST /api/search/image", s.searchImage)
	mux.HandleFunc("GET /api/ads/{id}", s.adByID)
	mux.HandleFunc("GET /api/profiles/{id}", s.profile)
	mux.HandleFunc("GET /api/snapshot", s.snapshot)
	mux.HandleFunc("GET /api/export/ads", s.exportAds)
	mux.HandleFunc("GET /api/images/{sha256}", s.image)
	mux.HandleFunc("GET /api/alerts", s.alerts)
	mux.HandleFunc("POST /api/alerts/{key}/status", s.alertStatus)
	mux.HandleFunc("GET /api/watchlist", s.watchlist)
	mux.HandleFunc("POST /api/watchlist", s.addWatch)
	if s.Gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(s.Gatherer, promhttp.HandlerOpts{}))
	}
	return mux
}

// Run serves on s.Addr until ctx is done. It refuses non-loopback
// addresses.
func (s *Server) Run(ctx context.Context) error {
	addr := s.Addr
	if !config.IsLoopback(addr) {
		return fmt.Errorf("serving on %s: only loopback addresses are allowed until accounts and an audit log exist", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	s.Log.Info("web UI and API listening", "url", "http://"+ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
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

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

// SearchResult is the answer of /api/search.
type SearchResult struct {
	Query    string        `json:"query"`
	Phones   []string      `json:"phones,omitempty"`
	Handles  []string      `json:"handles,omitempty"`
	Ads      []indexer.Hit `json:"ads"`
	Profiles []string      `json:"profiles"`
}

func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	if q == "" {
		writeErr(w, http.StatusBadRequest, "missing q")
		return
	}
	res := SearchResult{Query: q}
	var err error
	if res.Phones = s.phones.Numbers(q); len(res.Phones) > 0 {
		res.Ads, err = s.Index.SearchPhones(res.Phones, 500)
	} else if res.Handles = handle.Find(q); len(res.Handles) > 0 {
		res.Ads, err = s.Index.SearchHandles(res.Handles, 500)
	} else {
		res.Ads, err = s.Index.SearchText(q, 100)
	}
	if err != nil {
		writeErr(w, http.StatusInternalServerError, err.Error())
		return
	}
	seen := map[string]bool{}
	res.Profiles = []string{}
	for _, h := range res.Ads {
		if !seen[h.Profile] {
			seen[h.Profile] = true
			res.Profiles = append(res.Profiles, h.Profile)
		}
	}
	writeJSON(w, http.StatusOK, res)
}

// maxUpload caps an uploaded image.
const maxUpload = 20 << 20

// ImageResult is the answer of POST /api/search/image.
type ImageResult struct {
	PHash    string   `json:"phash"`
	Profiles []string `json:"profiles"`
}

// searchImage finds the profiles with a near-duplicate of the uploaded
// photo: the body is the image, or a multipart form with field "image".
// readImage reads an uploaded image: the "image" field of a multipart
// form, or the whole body. It answers the request itself on failure.
func readImage(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, maxUpload)
	var data []byte
	var err error
	if isMultipart(r) {
		f, _, ferr := r.FormFile("image")
		if ferr != nil {
			writeErr(w, http.StatusBadRequest, "multipart upload without an image field")
			return nil, false
		}
		defer f.Close()
		data, err = io.ReadAll(f)
	} else {
		data, err = io.ReadAll(r.Body)
	}
	if err != nil {
		writeErr(w, http.StatusBadRequest, "reading upload: "+err.Error())
		return nil, false
	}
	return data, true
}

func isMultipart(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data")
}

func (s *Server) searchImage(w http.ResponseWriter, r *http.Request) {
	data, ok := readImage(w, r)
	if !ok {
		return
	}
	res, err := imagehash.Hash(data, s.Config.Extract.MaxImagePixels)
	if err != nil {
		writeErr(w, http.StatusBadRequest, err.Error())
		return
	}
	out := ImageResult{PHash: imagehash.Hex(res.PHash), Profiles: s.Index.Linker.SimilarPhotos(res.PHash, res.Crops)}
	if out.Profiles == nil {
		out.Profiles = []string{}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) adByID(w http.ResponseWriter, r *http.Request) {
	a, ok, err := s.Index.Get(r.PathValue("id"))
	if err != nil {
		writeErr(w, http.StatusInternalServerError, err.Error())
		return
	}
	if !ok {
		writeErr(w, http.StatusNotFound, "no such ad")
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

func (s *Server) snapshot(w http.ResponseWriter, r *http.Request) {
	city, date := r.URL.Query().Get("city"), r.URL.Query().Get("date")
	if _, _, err := report.Window(s.Config, city, date); err != nil {
		writeErr(w, http.StatusBadRequest, err.Error())
		return
	}
	snap, err := report.TakeSnapshot(s.Config, s.Index, city, date)
	if err != nil {
		writeErr(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, snap)
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

// exportAds streams the ads as JSON lines (?city=&since=&until=), what
// adwatch export ads prints.
func (s *Server) exportAds(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f, err := report.ParseFilter(q.Get("city"), q.Get("since"), q.Get("until"))
	if err != nil {
		writeErr(w, http.StatusBadRequest, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	if err := report.ExportAds(s.Index, f, func(a report.ExportedAd) error { return enc.Encode(a) }); err != nil {
		// Headers are gone: end the stream with an error line, which no
		// ad line has (see Client.ExportAds).
		_ = enc.Encode(exportError{Err: err.Error()})
	}
	_ = bw.Flush()
}

func (s *Server) alerts(w http.ResponseWriter, r *http.Request) {
	if s.Alerts == nil {
		writeJSON(w, http.StatusOK, []record.Alert{})
		return
	}
	list, err := alerts.List(r.Context(), s.Alerts)
	if err != nil {
		writeErr(w, http.StatusInternalServerError, err.Error())
		return
	}
	if list == nil {
		list = []record.Alert{}
	}
	writeJSON(w, http.StatusOK, list)
}

// decodeBody reads a JSON body of at most 64 KiB into v, answering 400
// when it does not decode.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(v); err != nil {
		writeErr(w, http.StatusBadRequest, "body: "+err.Error())
		return false
	}
	return true
}

// StatusChange is the body of POST /api/alerts/{key}/status.
type StatusChange struct {
	Status string `json:"status"`
	By     string `json:"by"`
	Note   string `json:"note"`
}

func (s *Server) alertStatus(w http.ResponseWriter, r *http.Request) {
	if s.Alerts == nil {
		writeErr(w, http.StatusServiceUnavailable, "alerts need the message bus; run adwatch run")
		return
	}
	var c StatusChange
	if !decodeBody(w, r, &c) {
		return
	}
	a, err := alerts.SetStatus(r.Context(), s.Alerts, r.PathValue("key"), c.Status, c.By, c.Note)
	if err != nil {
		writeErr(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (s *Server) watchlist(w http.ResponseWriter, r *http.Request) {
	if s.Watch == nil {
		writeJSON(w, http.StatusOK, []alerts.WatchEntry{})
		return
	}
	list, err := alerts.Watchlist(r.Context(), s.Watch)
	if err != nil {
		writeErr(w, http.StatusInternalServerError, err.Error())
		return
	}
	if list == nil {
		list = []alerts.WatchEntry{}
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) addWatch(w http.ResponseWriter, r *http.Request) {
	if s.Watch == nil {
		writeErr(w, http.StatusServiceUnavailable, "the watchlist needs the message bus; run adwatch run")
		return
	}
	var e alerts.WatchEntry
	if isMultipart(r) {
		// A photo to watch: the "image" field, with "by" and "note".
		data, ok := readImage(w, r)
		if !ok {
			return
		}
		var err error
		e, err = alerts.WatchPhoto(data, s.Config.Extract.MaxImagePixels, r.FormValue("by"), r.FormValue("note"))
		if err != nil {
			writeErr(w, http.StatusBadRequest, err.Error())
			return
		}
	} else if !decodeBody(w, r, &e) {
		return
	}
	n, err := alerts.NormalizeWatch(e, s.Config.Region)
	if err != nil {
		writeErr(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := alerts.AddWatch(r.Context(), s.Watch, n); err != nil {
		writeErr(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, n)
}
