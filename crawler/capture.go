package crawler

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/adwatch/adwatch/internal/record"
)

// What a court asks about each fetch (record.Capture) is recorded around
// internal/fetch: the request as sent, the server's address from the
// connection (httptrace), the response's status and header fields, the
// final URL after redirects, the time, and the body exactly as served.
// Requests ask for Accept-Encoding: identity, so the bytes kept are the
// bytes the server sent and not a decompression of them.

// traced returns a copy of req that asks for the body unencoded and
// records the address of the server its connection reaches; ip reads it.
func traced(req *http.Request) (out *http.Request, ip func() string) {
	var mu sync.Mutex
	var addr string
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		host, _, err := net.SplitHostPort(info.Conn.RemoteAddr().String())
		if err != nil {
			host = info.Conn.RemoteAddr().String()
		}
		mu.Lock()
		addr = host
		mu.Unlock()
	}}
	out = req.Clone(httptrace.WithClientTrace(req.Context(), trace))
	if out.Header.Get("Accept-Encoding") == "" {
		out.Header.Set("Accept-Encoding", "identity")
	}
	return out, func() string {
		mu.Lock()
		defer mu.Unlock()
		return addr
	}
}

// newCapture describes the exchange of req (the final hop) and resp.
func newCapture(req *http.Request, resp *http.Response, ip string, at time.Time) *record.Capture {
	reqHeader := req.Header.Clone()
	if reqHeader == nil {
		reqHeader = http.Header{}
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	reqHeader.Set("Host", host)
	var redirects []string
	for r := req.Response; r != nil && r.Request != nil; r = r.Request.Response {
		redirects = append([]string{r.Request.URL.String()}, redirects...)
	}
	return &record.Capture{
		Method: req.Method, RequestHeader: reqHeader, Redirects: redirects, URL: req.URL.String(),
		Proto: resp.Proto, Status: resp.StatusCode, Reason: strings.TrimPrefix(resp.Status, strconv.Itoa(resp.StatusCode)+" "), Header: resp.Header.Clone(), ServerIP: ip, At: at.UTC(),
	}
}

// captured is one page exchange with its body as served.
type captured struct {
	capture *record.Capture
	body    []byte
}

// recorder is the page transport's wrapper: it records each exchange and
// keeps it, by final URL, until the crawler's response handler takes it
// (colly hands that handler a body converted to UTF-8, not the bytes
// served).
type recorder struct {
	base http.RoundTripper
	mu   sync.Mutex
	done map[string]captured
}

func newRecorder(base http.RoundTripper) *recorder {
	return &recorder{base: base, done: map[string]captured{}}
}

// RoundTrip sends req through the base transport and records the
// exchange once its body has been read and closed.
func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	out, ip := traced(req)
	resp, err := r.base.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	resp.Request = req
	c := newCapture(out, resp, ip(), time.Now())
	if resp.StatusCode >= 300 && resp.StatusCode < 400 && resp.Header.Get("Location") != "" {
		return resp, nil // a hop the client follows; the final one is kept
	}
	key := req.URL.String()
	resp.Body = &teeBody{r: resp.Body, done: func(body []byte) {
		c.SHA256, c.Size = record.SHA256Hex(body), int64(len(body))
		r.mu.Lock()
		r.done[key] = captured{capture: c, body: body}
		r.mu.Unlock()
	}}
	return resp, nil
}

// take returns and forgets the exchange that fetched u.
func (r *recorder) take(u string) (captured, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.done[u]
	delete(r.done, u)
	return c, ok
}

// teeBody keeps what is read of a body and, when it was read to its end,
// hands it to done on Close.
type teeBody struct {
	r    io.ReadCloser
	buf  []byte
	eof  bool
	done func([]byte)
}

func (t *teeBody) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.buf = append(t.buf, p[:n]...)
	if err == io.EOF {
		t.eof = true
	}
	return n, err
}

func (t *teeBody) Close() error {
	err := t.r.Close()
	if t.eof && t.done != nil {
		t.done(t.buf)
		t.done = nil
	}
	return err
}

// capturedDo sends req with client, as traced does, and returns the
// response with its exchange (the body's digest is the caller's to add).
func capturedDo(ctx context.Context, client *http.Client, req *http.Request) (*http.Response, *record.Capture, error) {
	out, ip := traced(req.WithContext(ctx))
	resp, err := client.Do(out)
	if err != nil {
		return nil, nil, err
	}
	final := resp.Request
	if final == nil {
		final = out
	}
	return resp, newCapture(final, resp, ip(), time.Now()), nil
}

var _ http.RoundTripper = (*recorder)(nil)
