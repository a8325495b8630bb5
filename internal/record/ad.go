package record

import (
	"strings"
	"time"
)

// Image is an ad image after extraction.
type Image struct {
	URL    string `json:"url"`
	SHA256 string `json:"sha256,omitempty"`
	// PHash is the 64-bit perceptual hash as 16 hex digits.
	PHash string `json:"phash,omitempty"`
	// PHashCrops are the perceptual hashes of crop variants of the image,
	// so that a cropped copy still links (see extractor/imagehash).
	PHashCrops []string `json:"phash_crops,omitempty"`
	Width      int      `json:"width,omitempty"`
	Height     int      `json:"height,omitempty"`
	Error      string   `json:"error,omitempty"`
}

// Phone is a phone number found in an ad.
type Phone struct {
	// E164 is the number in E.164 form, for example +15108730123.
	E164 string `json:"e164"`
	// Obfuscated is true when the number was written to evade search
	// (spelled digits, letters for digits, separators inside groups).
	Obfuscated bool `json:"obfuscated,omitempty"`
	// Source says where the number was found first: "text" (a field, the
	// title, the body), "url" (the ad page's address) or "link" (a link
	// in the ad); empty in ads extracted before sources were recorded.
	Source string `json:"source,omitempty"`
}

// Where a phone number was found (Phone.Source).
const (
	PhoneFromText = "text"
	PhoneFromURL  = "url"
	PhoneFromLink = "link"
)

// Indicator is one matched term of an indicator list.
type Indicator struct {
	Category string  `json:"category"`
	Term     string  `json:"term"`
	Weight   float64 `json:"weight"`
	// Offset is the byte offset of the match in the ad's title + "\n" +
	// body, or -1 for an indicator of the whole ad (an obfuscated phone).
	Offset int `json:"offset"`
}

// Ad is the structured ad an extractor made of a Page, published on the ads
// stream and indexed by the indexer.
type Ad struct {
	// ID is stable for one ad on one site: site + ":" + the site's own id.
	ID        string    `json:"id"`
	Site      string    `json:"site"`
	URL       string    `json:"url"`
	PostedAt  time.Time `json:"posted_at"`
	FetchedAt time.Time `json:"fetched_at"`
	City      string    `json:"city"`
	Title     string    `json:"title"`
	Body      string    `json:"body"`
	Poster    string    `json:"poster,omitempty"`
	Phones    []Phone   `json:"phones"`
	Ages      []int     `json:"ages"`
	// Handles are normalized identifiers other than phones: emails,
	// social, messaging and payment handles, domains ("instagram:rosa.b").
	Handles []string `json:"handles"`
	Images  []Image  `json:"images"`
	// Indicators are matched terms, youth first.
	Indicators []Indicator `json:"indicators"`
	// Scores is the summed weight per indicator category.
	Scores map[string]float64 `json:"scores,omitempty"`
	// PageSHA256 is the SHA-256 of the page this ad was extracted from.
	PageSHA256 string `json:"page_sha256"`
	// Problems lists what could not be extracted, for example a missing
	// posted time; the ad is kept.
	Problems []string `json:"problems,omitempty"`
	// Versions are the ad's earlier captures, oldest first, set by the
	// indexer when an ad changes (its phone, its text): nothing an ad
	// once said is lost, and a search by an old phone still finds it.
	Versions []AdVersion `json:"versions,omitempty"`
	// GoneAt is when a complete crawl of the site first no longer found
	// the ad (zero while it is still up).
	GoneAt time.Time `json:"gone_at,omitzero"`
}

// AdVersion is one earlier capture of an ad.
type AdVersion struct {
	Version    string    `json:"version"`
	PageSHA256 string    `json:"page_sha256"`
	FetchedAt  time.Time `json:"fetched_at"`
	Title      string    `json:"title"`
	Body       string    `json:"body,omitempty"`
	Phones     []string  `json:"phones,omitempty"`
	Handles    []string  `json:"handles,omitempty"`
	Ages       []int     `json:"ages,omitempty"`
}

// Earlier returns the version a is, to keep when it is replaced.
func (a *Ad) Earlier() AdVersion {
	return AdVersion{Version: a.Version(), PageSHA256: a.PageSHA256, FetchedAt: a.FetchedAt, Title: a.Title, Body: a.Body,
		Phones: a.PhoneNumbers(), Handles: a.Handles, Ages: a.Ages}
}

// PhoneNumbers returns the E.164 strings of a's phones.
func (a *Ad) PhoneNumbers() []string {
	out := make([]string, 0, len(a.Phones))
	for _, p := range a.Phones {
		out = append(out, p.E164)
	}
	return out
}

// Version names one capture of an ad: its page's SHA-256 and, when an
// image was missing from it, which images it held, so a capture that
// later gained its photos is a new version (and an ad captured again
// with the same page and images is the same one).
func (a *Ad) Version() string {
	var b strings.Builder
	missing := false
	for _, img := range a.Images {
		b.WriteString(img.SHA256)
		if img.Error != "" || img.SHA256 == "" {
			b.WriteByte('!')
			missing = true
		}
		b.WriteByte(',')
	}
	if !missing {
		return a.PageSHA256
	}
	return a.PageSHA256 + "/" + SHA256Hex([]byte(b.String()))[:12]
}
