package record

import "time"

// Capture is what adwatch kept of one HTTP exchange, for evidence: what was
// asked, of which address, and what came back, when. The body itself is
// kept beside it (Page.Raw or Page.HTML; an image in the image store under
// SHA256).
type Capture struct {
	// Method and RequestHeader are the request as adwatch sent it (the
	// final hop of a redirect), Host included.
	Method        string              `json:"method,omitempty"`
	RequestHeader map[string][]string `json:"request_header,omitempty"`
	// Redirects are the URLs requested before URL, in order, when the
	// server redirected.
	Redirects []string `json:"redirects,omitempty"`
	// URL is the final URL, after redirects.
	URL string `json:"url"`
	// Proto, Status, Reason and Header are the response's protocol
	// ("HTTP/1.1"), status code, reason phrase and header fields as
	// received. The fetcher removes
	// Content-Length and Content-Encoding, and Go's client the hop-by-hop
	// Transfer-Encoding: the body is kept decoded and whole.
	Proto  string              `json:"proto,omitempty"`
	Status int                 `json:"status"`
	Reason string              `json:"reason,omitempty"`
	Header map[string][]string `json:"header,omitempty"`
	// ServerIP is the address of the server the connection reached.
	ServerIP string `json:"server_ip,omitempty"`
	// At is when the response's header arrived, in UTC.
	At time.Time `json:"at"`
	// SHA256 (hex) and Size are of the body exactly as served.
	SHA256 string `json:"sha256,omitempty"`
	Size   int64  `json:"size"`
}
