package record

import "time"

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
	// Capture is the HTTP exchange that brought the page; nil in pages
	// crawled before adwatch recorded it.
	Capture *Capture `json:"capture,omitempty"`
	// Raw is the body exactly as served when it differs from HTML (which
	// the crawler converts to UTF-8 from the charset the server names).
	Raw []byte `json:"raw,omitempty"`
}

// Served returns the body exactly as the server sent it: Raw when set,
// else HTML.
func (p *Page) Served() []byte {
	if p.Raw != nil {
		return p.Raw
	}
	return p.HTML
}

// ImageRef points at one image of an ad. The bytes live in the image object
// store under SHA256; Error is set instead when the download failed, so the
// ad is kept and the failure is visible.
type ImageRef struct {
	URL    string `json:"url"`
	SHA256 string `json:"sha256,omitempty"`
	Size   int64  `json:"size,omitempty"`
	Error  string `json:"error,omitempty"`
	// Capture is the HTTP exchange that brought the image; nil when it
	// failed or in pages crawled before adwatch recorded it.
	Capture *Capture `json:"capture,omitempty"`
}

// SitePass is what one complete crawl of a site found: the ad pages it
// fetched. An ad indexed before whose page a complete pass no longer finds
// is marked gone at Finished (Ad.GoneAt); one found again is not.
type SitePass struct {
	Site     string    `json:"site"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// AdURLs are the ad pages fetched in the pass, changed or not.
	AdURLs []string `json:"ad_urls"`
}
