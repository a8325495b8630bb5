package web

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/adwatch/adwatch/extractor/handle"
	"github.com/adwatch/adwatch/extractor/imagehash"
	"github.com/adwatch/adwatch/indexer"
)

// SearchResult is the answer of /api/search.
type SearchResult struct {
	Query   string   `json:"query"`
	Phones  []string `json:"phones,omitempty"`
	Handles []string `json:"handles,omitempty"`
	// PhonePart is the part of a phone number searched for (4 to 7
	// digits that begin or end a number).
	PhonePart string `json:"phone_part,omitempty"`
	// Ads are the page of matching ads, best first; Profiles the distinct
	// profiles among them.
	Ads      []indexer.Hit `json:"ads"`
	Profiles []string      `json:"profiles"`
	// Total is how many ads match in all; Page (from 1) and Size the page.
	Total uint64 `json:"total"`
	Page  int    `json:"page"`
	Size  int    `json:"size"`
	// By is "ads" or "profiles".
	By     string          `json:"by"`
	Facets *indexer.Facets `json:"facets"`
	// ProfileResults are, for by=profiles, the page of profiles the
	// matching ads belong to; ProfileTotal how many there are.
	ProfileResults []indexer.ProfileSummary `json:"profile_results"`
	ProfileTotal   int                      `json:"profile_total"`
}

// Search paging: the default page size of a phone or handle search and
// of other searches, the largest page, and how deep paging goes.
const (
	defaultContactSize = 500
	defaultSize        = 100
	maxSize            = 500
	maxDepth           = 10000
)

// phonePart returns the digits of q when q is only a short run of digits
// and separators: a part of a phone number.
func phonePart(q string) (string, bool) {
	digits := strings.Map(func(r rune) rune {
		switch {
		case r >= '0' && r <= '9':
			return r
		case strings.ContainsRune(" -().+", r):
			return -1
		}
		return 'x'
	}, q)
	if strings.Contains(digits, "x") || len(digits) < indexer.MinPhonePart || len(digits) > 7 {
		return "", false
	}
	return digits, true
}

// searchParams reads the filters and paging of a search request into
// sr; it answers the request itself and returns false when one is wrong.
func searchParams(w http.ResponseWriter, r *http.Request, sr *indexer.Search, res *SearchResult) bool {
	q := r.URL.Query()
	sr.City, sr.Site, sr.Category = strings.TrimSpace(q.Get("city")), strings.TrimSpace(q.Get("site")), strings.TrimSpace(q.Get("category"))
	for _, d := range []struct {
		name string
		to   *time.Time
		add  int
	}{{"from", &sr.From, 0}, {"to", &sr.Until, 1}} {
		if v := q.Get(d.name); v != "" {
			t, err := time.Parse(time.DateOnly, v)
			if err != nil {
				writeErr(w, http.StatusBadRequest, d.name+": want YYYY-MM-DD")
				return false
			}
			*d.to = t.AddDate(0, 0, d.add)
		}
	}
	ints := []struct {
		name     string
		to       *int
		lo, hi   int
		fallback int
	}{
		{"min_age", &sr.MinAge, 1, 120, 0}, {"max_age", &sr.MaxAge, 1, 120, 0},
		{"page", &res.Page, 1, maxDepth, 1}, {"size", &res.Size, 1, maxSize, res.Size},
	}
	for _, n := range ints {
		*n.to = n.fallback
		if v := q.Get(n.name); v != "" {
			i, err := strconv.Atoi(v)
			if err != nil || i < n.lo || i > n.hi {
				writeErr(w, http.StatusBadRequest, n.name+": want a whole number from "+strconv.Itoa(n.lo)+" to "+strconv.Itoa(n.hi))
				return false
			}
			*n.to = i
		}
	}
	if res.Page*res.Size > maxDepth {
		writeErr(w, http.StatusBadRequest, "page: paging goes "+strconv.Itoa(maxDepth)+" results deep; narrow the search")
		return false
	}
	switch res.By = q.Get("by"); res.By {
	case "":
		res.By = "ads"
	case "ads", "profiles":
	default:
		writeErr(w, http.StatusBadRequest, "by: want ads or profiles")
		return false
	}
	return true
}

// numbers reads the phone numbers in q: in the config's region first,
// then, when that finds none, in the country of each site watched (an
// investigator types a number abroad the local way: 099 312 4567).
func (s *Server) numbers(q string) []string {
	for _, x := range s.phones {
		if n := x.Numbers(q); len(n) > 0 {
			return n
		}
	}
	return nil
}

// search finds ads by phone number in any format or a part of one,
// handle, or words, narrowed by city, site, days posted, indicator
// category and stated age, one page at a time, with facets; by=profiles
// groups them into profiles.
func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	res := SearchResult{Query: q, Size: defaultSize}
	var sr indexer.Search
	phones := s.numbers(q)
	switch {
	case q == "":
	case len(phones) > 0:
		res.Phones = phones
		sr.Phones, res.Size = res.Phones, defaultContactSize
	default:
		if part, ok := phonePart(q); ok {
			res.PhonePart, sr.PhonePart = part, part
		} else if res.Handles = handle.Find(q); len(res.Handles) > 0 {
			sr.Handles, res.Size = res.Handles, defaultContactSize
		} else {
			sr.Text = q
		}
	}
	if !searchParams(w, r, &sr, &res) {
		return
	}
	if q == "" && sr.City == "" && sr.Site == "" && sr.Category == "" && sr.From.IsZero() && sr.Until.IsZero() && sr.MinAge == 0 && sr.MaxAge == 0 {
		writeErr(w, http.StatusBadRequest, "missing q (or a filter: city, site, from, to, category, min_age, max_age)")
		return
	}
	sr.Offset, sr.Size, sr.Facets = (res.Page-1)*res.Size, res.Size, true
	found, err := s.Index.Find(sr)
	if err != nil {
		writeErr(w, http.StatusInternalServerError, err.Error())
		return
	}
	res.Ads, res.Total, res.Facets = found.Hits, found.Total, found.Facets
	seen := map[string]bool{}
	res.Profiles = []string{}
	for _, h := range res.Ads {
		if !seen[h.Profile] {
			seen[h.Profile] = true
			res.Profiles = append(res.Profiles, h.Profile)
		}
	}
	if res.By == "profiles" {
		pf, err := s.Index.FindProfiles(sr, sr.Offset, sr.Size)
		if err != nil {
			writeErr(w, http.StatusInternalServerError, err.Error())
			return
		}
		res.ProfileResults, res.ProfileTotal = pf.Profiles, pf.Total
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

// searchImage finds the profiles with a near-duplicate of the uploaded
// photo: the body is the image, or a multipart form with field "image".
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
