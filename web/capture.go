package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/net/html"

	"github.com/adwatch/adwatch/internal/record"
)

// Capture is the answer of GET /api/ads/{id}/capture: the page an ad was
// extracted from as the crawler captured it, checked against the
// checksum the ad's record holds, and made safe to show.
type Capture struct {
	AdID string `json:"ad_id"`
	URL  string `json:"url"`
	// FetchedAt is when the crawler captured the page.
	FetchedAt time.Time `json:"fetched_at"`
	// PageSHA256 is the checksum the ad's record holds; StoredSHA256 the
	// one of the stored bytes, computed now. Verified is true when they
	// agree.
	PageSHA256   string `json:"page_sha256"`
	StoredSHA256 string `json:"stored_sha256,omitempty"`
	Verified     bool   `json:"verified"`
	// Status is "verified", "altered" (the stored bytes do not hash to
	// the record's checksum) or "not_kept" (the page is no longer in
	// the pages stream).
	Status string `json:"status"`
	// Sequence is the page's message in the pages stream.
	Sequence uint64 `json:"sequence,omitempty"`
	// Ad is what was extracted from the page.
	Ad record.Ad `json:"ad"`
	// HTML is the page sanitised: no script, style, frame, form or
	// external resource; images the ad's record holds point at
	// /api/images/{sha256}; links keep their text but lead nowhere.
	HTML string `json:"html"`
}

// Capture statuses.
const (
	captureVerified = "verified"
	captureAltered  = "altered"
	captureNotKept  = "not_kept"
)

// adCapture answers GET /api/ads/{id}/capture.
func (s *Server) adCapture(w http.ResponseWriter, r *http.Request) {
	a, ok := s.ad(w, r)
	if !ok {
		return
	}
	if s.Pages == nil {
		writeErr(w, http.StatusServiceUnavailable, "captured pages need the message bus; run adwatch run")
		return
	}
	c := Capture{AdID: a.ID, URL: a.URL, FetchedAt: a.FetchedAt, PageSHA256: a.PageSHA256, Status: captureNotKept, Ad: a}
	p, seq, found, err := findPage(r.Context(), s.Pages, &a)
	if err != nil {
		writeErr(w, http.StatusInternalServerError, "reading the pages stream: "+err.Error())
		return
	}
	if found {
		c.URL, c.FetchedAt, c.Sequence = p.URL, p.FetchedAt, seq
		c.StoredSHA256 = record.SHA256Hex(p.HTML)
		c.Verified = c.StoredSHA256 == a.PageSHA256
		c.Status = captureAltered
		if c.Verified {
			c.Status = captureVerified
		}
		images := map[string]string{}
		for _, img := range p.Images {
			if img.Error == "" {
				images[img.URL] = img.SHA256
			}
		}
		for _, img := range a.Images {
			if img.Error == "" {
				images[img.URL] = img.SHA256
			}
		}
		c.HTML = sanitize(p.HTML, p.URL, images)
	}
	writeJSON(w, http.StatusOK, c)
}

// Bounds of the search for an ad's page: the most page headers read,
// and how long after the ad's capture time a page may have been
// published.
const (
	maxCaptureScan  = 20000
	captureLeadTime = time.Minute
	captureLateTime = 30 * time.Minute
)

// findPage finds the page ad a was extracted from in the pages stream:
// the message whose id ends in the ad's page checksum and whose URL is the
// ad's. It reads headers only, on the ad's site's subject, from a minute
// before the ad's capture time, and at most maxCaptureScan of them; then
// it fetches the one page.
func findPage(ctx context.Context, st jetstream.Stream, a *record.Ad) (record.Page, uint64, bool, error) {
	cfg := jetstream.ConsumerConfig{
		AckPolicy: jetstream.AckNonePolicy, HeadersOnly: true, MemoryStorage: true,
		InactiveThreshold: 30 * time.Second, DeliverPolicy: jetstream.DeliverAllPolicy,
	}
	if subj := pageSubject(st, a.Site); subj != "" {
		cfg.FilterSubject = subj
	}
	if !a.FetchedAt.IsZero() {
		start := a.FetchedAt.Add(-captureLeadTime)
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &start
	}
	cons, err := st.CreateConsumer(ctx, cfg)
	if err != nil {
		return record.Page{}, 0, false, fmt.Errorf("creating a consumer: %w", err)
	}
	defer func() { _ = st.DeleteConsumer(context.WithoutCancel(ctx), cons.CachedInfo().Name) }()
	if info := cons.CachedInfo(); info == nil || info.NumPending == 0 {
		return record.Page{}, 0, false, nil
	}
	suffix := "/" + a.PageSHA256
	latest := a.FetchedAt.Add(captureLateTime)
	for read := 0; read < maxCaptureScan; {
		batch, err := cons.FetchNoWait(500)
		if err != nil {
			return record.Page{}, 0, false, fmt.Errorf("fetching page headers: %w", err)
		}
		n, done := 0, false
		var candidates []uint64
		for m := range batch.Messages() {
			n++
			md, err := m.Metadata()
			if err != nil {
				continue
			}
			if id := m.Headers().Get(jetstream.MsgIDHeader); a.PageSHA256 != "" && strings.HasSuffix(id, suffix) {
				candidates = append(candidates, md.Sequence.Stream)
			}
			done = done || md.NumPending == 0 || (!a.FetchedAt.IsZero() && md.Timestamp.After(latest))
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return record.Page{}, 0, false, fmt.Errorf("fetching page headers: %w", err)
		}
		for _, seq := range candidates {
			raw, err := st.GetMsg(ctx, seq)
			if err != nil {
				return record.Page{}, 0, false, fmt.Errorf("reading page %d: %w", seq, err)
			}
			var p record.Page
			if json.Unmarshal(raw.Data, &p) == nil && p.URL == a.URL {
				return p, seq, true, nil
			}
		}
		read += n
		if n == 0 || done {
			break
		}
	}
	return record.Page{}, 0, false, nil
}

// pageSubject is the pages stream's subject of one site, from the
// stream's own subjects ("adwatch.pages.>"); "" when it cannot be told.
func pageSubject(st jetstream.Stream, site string) string {
	info := st.CachedInfo()
	if info == nil || len(info.Config.Subjects) != 1 || site == "" || strings.ContainsAny(site, ".*> \t") {
		return ""
	}
	prefix, ok := strings.CutSuffix(info.Config.Subjects[0], ">")
	if !ok {
		return ""
	}
	return prefix + site
}

// Sanitising: the elements kept (with their text), the elements dropped
// with everything in them, and the attributes kept. An element in
// neither list is unwrapped: its text is kept, the element not.
var (
	keptElements = set("a", "abbr", "address", "article", "aside", "b", "bdi", "blockquote", "br", "caption", "cite",
		"code", "dd", "del", "details", "dfn", "div", "dl", "dt", "em", "figcaption", "figure", "footer", "h1", "h2",
		"h3", "h4", "h5", "h6", "header", "hr", "i", "img", "ins", "kbd", "li", "main", "mark", "nav", "ol", "p", "pre",
		"q", "s", "section", "small", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th",
		"thead", "time", "tr", "u", "ul")
	droppedElements = set("script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "form",
		"input", "button", "select", "textarea", "option", "link", "meta", "base", "head", "title", "noscript",
		"template", "svg", "math", "audio", "video", "source", "track", "picture", "canvas", "map", "area",
		"portal", "dialog", "slot")
	voidElements = set("br", "hr", "img")
	keptAttrs    = set("alt", "title", "colspan", "rowspan", "datetime")
)

func set(items ...string) map[string]bool {
	m := make(map[string]bool, len(items))
	for _, it := range items {
		m[it] = true
	}
	return m
}

// sanitize returns page as HTML safe to show an investigator: only the
// kept elements and attributes; no script, style, frame, form, meta or
// link; images the ad's record holds (images: URL -> SHA-256) served
// from /api/images/, other images and resources dropped; links without
// their targets. Text and attribute values are escaped, ':' and '='
// included, so no "javascript:" and no "onerror=" survives even as text.
func sanitize(page []byte, base string, images map[string]string) string {
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		return ""
	}
	baseURL, _ := url.Parse(base)
	var b strings.Builder
	var walk func(n *html.Node)
	children := func(n *html.Node) {
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk = func(n *html.Node) {
		switch n.Type {
		case html.DocumentNode:
			children(n)
		case html.TextNode:
			b.WriteString(escape(n.Data))
		case html.ElementNode:
			tag := n.Data
			switch {
			case n.Namespace != "" || droppedElements[tag]:
				return
			case !keptElements[tag]:
				children(n)
				return
			case tag == "img":
				sha := imageSHA(n, baseURL, images)
				if sha == "" {
					return
				}
				b.WriteString(`<img src="/api/images/` + sha + `"`)
				writeAttrs(&b, n)
				b.WriteString(">")
				return
			}
			b.WriteString("<" + tag)
			writeAttrs(&b, n)
			b.WriteString(">")
			if voidElements[tag] {
				return
			}
			children(n)
			b.WriteString("</" + tag + ">")
		}
	}
	walk(doc)
	return b.String()
}

// writeAttrs writes n's kept attributes, escaped.
func writeAttrs(b *strings.Builder, n *html.Node) {
	for _, at := range n.Attr {
		if at.Namespace == "" && keptAttrs[at.Key] {
			b.WriteString(" " + at.Key + `="` + escape(at.Val) + `"`)
		}
	}
}

// imageSHA is the SHA-256 of an <img>'s source when the ad's record holds
// it, by its URL as written or resolved against the page's.
func imageSHA(n *html.Node, base *url.URL, images map[string]string) string {
	for _, at := range n.Attr {
		if at.Key != "src" || at.Namespace != "" {
			continue
		}
		src := strings.TrimSpace(at.Val)
		sha, ok := images[src]
		if !ok && base != nil {
			if u, err := base.Parse(src); err == nil {
				sha, ok = images[u.String()]
			}
		}
		if ok && isSHA256(sha) {
			return sha
		}
	}
	return ""
}

func isSHA256(s string) bool {
	return len(s) == 64 && strings.Trim(s, "0123456789abcdef") == ""
}

// escaper escapes text and attribute values, with ':' and '=' besides
// what html.EscapeString does: the browser shows them the same, and no
// "javascript:" or "onerror=" is left to find even as text.
var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;", ":", "&#58;", "=", "&#61;")

func escape(s string) string { return escaper.Replace(s) }
