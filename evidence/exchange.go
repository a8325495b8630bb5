package evidence

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/adwatch/adwatch/internal/record"
)

// exchange is one stored capture as WARC blocks. Its blocks depend on the
// capture alone, so Verify rebuilds them byte for byte.
type exchange struct {
	uri string
	at  time.Time
	ip  string
	// request and response are the HTTP messages as blocks; both nil
	// when the capture has no recorded exchange, and body is then written
	// as a resource record of type contentType.
	request, response []byte
	body              []byte
	contentType       string
	capture           *record.Capture
}

// pageExchange is the exchange of page p.
func pageExchange(p *record.Page) exchange {
	return newExchange(p.URL, p.FetchedAt, p.Capture, p.Served())
}

// imageExchange is the exchange of the image ref, whose bytes are data.
func imageExchange(ref *record.ImageRef, fetched time.Time, data []byte) exchange {
	return newExchange(ref.URL, fetched, ref.Capture, data)
}

func newExchange(u string, at time.Time, c *record.Capture, body []byte) exchange {
	if c == nil {
		return exchange{uri: u, at: at, body: body, contentType: http.DetectContentType(body)}
	}
	return exchange{uri: c.URL, at: c.At, ip: c.ServerIP, request: requestBlock(c), response: responseBlock(c, body), body: body, capture: c}
}

// requestBlock is the request of c as an HTTP/1.1 message: the request
// line, Host first, then the other fields in name order.
func requestBlock(c *record.Capture) []byte {
	var b bytes.Buffer
	target := "/"
	if u, err := url.Parse(c.URL); err == nil {
		target = u.RequestURI()
	}
	method := c.Method
	if method == "" {
		method = http.MethodGet
	}
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\n", method, target)
	for _, h := range c.RequestHeader["Host"] {
		fmt.Fprintf(&b, "Host: %s\r\n", oneLine(h))
	}
	writeHeader(&b, c.RequestHeader, "Host")
	b.WriteString("\r\n")
	return b.Bytes()
}

// responseBlock is the response of c with body: the status line as
// received, the header fields in name order (Go's client keeps neither
// their order nor their case) and the body exactly as served.
func responseBlock(c *record.Capture, body []byte) []byte {
	var b bytes.Buffer
	proto := c.Proto
	if proto == "" {
		proto = "HTTP/1.1"
	}
	reason := c.Reason
	if reason == "" {
		reason = http.StatusText(c.Status)
	}
	fmt.Fprintf(&b, "%s %d %s\r\n", proto, c.Status, oneLine(reason))
	writeHeader(&b, c.Header, "")
	b.WriteString("\r\n")
	b.Write(body)
	return b.Bytes()
}

func writeHeader(b *bytes.Buffer, h map[string][]string, skip string) {
	names := make([]string, 0, len(h))
	for k := range h {
		if k != skip {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	for _, k := range names {
		for _, v := range h[k] {
			b.WriteString(oneLine(k) + ": " + oneLine(v) + "\r\n")
		}
	}
}

// records makes the records of x: request, response and metadata, or
// resource and metadata. source is the FieldCapture value; meta the
// metadata record's fields (application/warc-fields) after those made
// from the capture.
func (x exchange) records(warcinfo, source string, meta []Field) []*Record {
	date := Date(x.at)
	base := func(typ, id string) *Record {
		r := &Record{}
		r.Add(FieldType, typ)
		r.Add(FieldRecordID, id)
		r.Add(FieldDate, date)
		r.Add(FieldTargetURI, x.uri)
		if warcinfo != "" {
			r.Add(FieldWarcinfoID, warcinfo)
		}
		if x.ip != "" {
			r.Add(FieldIPAddress, x.ip)
		}
		return r
	}
	metaID := NewRecordID()
	var out []*Record
	var main string
	if x.response != nil {
		reqID, respID := NewRecordID(), NewRecordID()
		main = respID
		req := base("request", reqID)
		req.Add(FieldConcurrentTo, respID)
		req.Add(FieldConcurrentTo, metaID)
		req.Add(FieldCapture, source)
		req.Add(FieldContentType, "application/http; msgtype=request")
		req.Block = x.request
		resp := base("response", respID)
		resp.Add(FieldConcurrentTo, reqID)
		resp.Add(FieldConcurrentTo, metaID)
		resp.Add(FieldCapture, source)
		resp.Add(FieldContentType, "application/http; msgtype=response")
		resp.Block = x.response
		out = append(out, req, resp)
	} else {
		main = NewRecordID()
		res := base("resource", main)
		res.Add(FieldConcurrentTo, metaID)
		res.Add(FieldCapture, source)
		res.Add(FieldContentType, x.contentType)
		res.Block = x.body
		out = append(out, res)
	}
	m := base("metadata", metaID)
	m.Add(FieldConcurrentTo, main)
	m.Add("WARC-Refers-To", main)
	m.Add(FieldContentType, "application/warc-fields")
	var block bytes.Buffer
	field := func(name, value string) {
		if value != "" {
			block.WriteString(name + ": " + oneLine(value) + "\r\n")
		}
	}
	field("adwatch-capture", source)
	field("body-sha256", record.SHA256Hex(x.body))
	field("body-size", strconv.Itoa(len(x.body)))
	if c := x.capture; c != nil {
		field("fetched-at", c.At.UTC().Format(time.RFC3339Nano))
		field("server-ip", c.ServerIP)
		field("http-status", strconv.Itoa(c.Status))
		for _, u := range c.Redirects {
			field("redirected-from", u)
		}
		field("final-url", c.URL)
	} else {
		field("fetched-at", x.at.UTC().Format(time.RFC3339Nano))
		field("note", "captured before adwatch recorded the HTTP exchange: the body alone, as stored")
	}
	for _, f := range meta {
		field(f.Name, f.Value)
	}
	m.Block = block.Bytes()
	out = append(out, m)
	for _, r := range out {
		r.SetDigests()
	}
	return out
}

// source names the stored capture of a page (image < 0) or of one of its
// images for FieldCapture.
func source(seq uint64, image int) string {
	if image < 0 {
		return "page " + strconv.FormatUint(seq, 10)
	}
	return "page " + strconv.FormatUint(seq, 10) + " image " + strconv.Itoa(image)
}

// parseSource reads a FieldCapture value.
func parseSource(s string) (seq uint64, image int, err error) {
	f := strings.Fields(s)
	image = -1
	if (len(f) != 2 && len(f) != 4) || f[0] != "page" || (len(f) == 4 && f[2] != "image") {
		return 0, 0, fmt.Errorf("%s %q: want \"page N\" or \"page N image I\"", FieldCapture, truncate(s))
	}
	if seq, err = strconv.ParseUint(f[1], 10, 64); err != nil {
		return 0, 0, fmt.Errorf("%s %q: %w", FieldCapture, truncate(s), err)
	}
	if len(f) == 4 {
		if image, err = strconv.Atoi(f[3]); err != nil || image < 0 {
			return 0, 0, fmt.Errorf("%s %q: bad image index", FieldCapture, truncate(s))
		}
	}
	return seq, image, nil
}
