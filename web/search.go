package web

import (
	"io"
	"net/http"
	"strings"

	"github.com/adwatch/adwatch/extractor/handle"
	"github.com/adwatch/adwatch/extractor/imagehash"
	"github.com/adwatch/adwatch/indexer"
)

// SearchResult is the answer of /api/search.
type SearchResult struct {
	Query    string        `json:"query"`
	Phones   []string      `json:"phones,omitempty"`
	Handles  []string      `json:"handles,omitempty"`
	Ads      []indexer.Hit `json:"ads"`
	Profiles []string      `json:"profiles"`
}

// search finds ads by phone number in any format, handle, or words.
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
