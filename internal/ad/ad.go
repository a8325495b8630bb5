// Package ad defines the records that travel between adwatch's stages: the
// raw page a crawler fetched and the structured ad an extractor made of it.
//
// The records are plain JSON so that any stage, in any process, can read
// them from the NATS subjects that carry them.
package ad

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"time"
)

// Page is one ad page as fetched by the crawler, published on the pages
// stream. The HTML is kept verbatim: the extractor re-parses it, so a better
// extractor can be run again over old pages.
type Page struct {
	// Site is the name of the site configuration that fetched the page.
	Site string `json:"site"`
	// URL is the absolute URL of the ad page.
	URL string `json:"url"`
	// FetchedAt is when the crawler received the page.
	FetchedAt time.Time `json:"fetched_at"`
	// SHA256 is the hex SHA-256 of HTML.
	SHA256 string `json:"sha256"`
	// HTML is the page body, as bytes, so invalid UTF-8 survives.
	HTML []byte `json:"html"`
	// Images are the ad's images, downloaded by the crawler.
	Images []ImageRef `json:"images,omitempty"`
}

// ImageRef points at one image of an ad. The bytes live in the image object
// store under SHA256; Error is set instead when the download failed, so the
// ad is kept and the failure is visible.
type ImageRef struct {
	URL    string `json:"url"`
	SHA256 string `json:"sha256,omitempty"`
	Size   int64  `json:"size,omitempty"`
	Error  string `json:"error,omitempty"`
}

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
}

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
}

// PhoneNumbers returns the E.164 strings of a's phones.
func (a *Ad) PhoneNumbers() []string {
	out := make([]string, 0, len(a.Phones))
	for _, p := range a.Phones {
		out = append(out, p.E164)
	}
	return out
}

// SHA256Hex returns the hex SHA-256 of b.
func SHA256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// PageRef names a page in logs above debug level without its path: ad
// URLs often carry a phone number or a name in their slug. It is the host
// and a short hash of the URL, enough to find the page again.
func PageRef(u string) string {
	host := "?"
	if p, err := url.Parse(u); err == nil {
		host = p.Host
	}
	return host + "#" + SHA256Hex([]byte(u))[:12]
}
