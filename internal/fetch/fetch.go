// Package fetch is the HTTP client side of crawling sites that may be
// hostile: a transport and a redirect check that go only to the hosts a
// site allows and never, after DNS resolution, to a private, loopback or
// link-local address unless the site says so; a cap on every body after
// decompression, whatever its Content-Encoding or Content-Type; and a
// per-host wait between requests.
//
// The crawler builds one Policy per site and kind of download (pages,
// images) and hands Policy.Transport and Policy.CheckRedirect to colly and
// to its image client.
package fetch

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Errors a request fails with, for callers that count failures by kind
// (errors.Is); ErrBlockedAddress is in address.go.
var (
	// ErrHostNotAllowed: the URL's host is not one the policy lists.
	ErrHostNotAllowed = errors.New("host not allowed")
	// ErrScheme: the URL is neither http nor https.
	ErrScheme = errors.New("scheme not allowed")
	// ErrRedirect: a redirect was refused (too many, a loop).
	ErrRedirect = errors.New("redirect refused")
	// ErrTooLarge: the body, decoded, is over the limit.
	ErrTooLarge = errors.New("body over the size limit")
	// ErrEncoding: the body has a Content-Encoding this package does not
	// decode with a bound.
	ErrEncoding = errors.New("content encoding not supported")
)

// DefaultMaxRedirects is Policy.MaxRedirects when it is zero.
const DefaultMaxRedirects = 5

// Policy says where requests may go and how much they may bring back.
type Policy struct {
	// Hosts are the host names (without port) requests may go to; a
	// name written "*.example.com" admits its subdomains. None admits
	// every host.
	Hosts []string
	// AllowPrivate lets requests reach loopback, private, link-local and
	// other non-public addresses (a simulator or test server on
	// 127.0.0.1).
	AllowPrivate bool
	// MaxRedirects followed for one request; 0 means DefaultMaxRedirects.
	MaxRedirects int
	// MaxBytes caps a body after decompression; 0 means no cap.
	MaxBytes int64
	// What a body is ("page", "image") in the error of one over MaxBytes.
	What string
	// Limiter, when set, spaces requests to one host.
	Limiter *Limiter
	// Slots, when set, bounds the requests in flight to each host
	// through every Policy given the same Slots: a request takes a slot
	// of its host before its turn at the Limiter and gives it back when
	// its body is closed (or it fails).
	Slots *Slots
	// Timeout, when set, bounds each request (each hop of a redirect)
	// from its turn at the host (after the Limiter's wait) to the last
	// byte of its body: a server that drips its answer cannot hold a
	// download longer.
	Timeout time.Duration

	exempt []netip.Prefix // addresses allowed although private (tests)
}

// HostAllowed reports whether host (a name or address, without port) is
// one the policy lists.
func (p *Policy) HostAllowed(host string) bool {
	if len(p.Hosts) == 0 {
		return true
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	for _, h := range p.Hosts {
		h = strings.ToLower(h)
		if sub, ok := strings.CutPrefix(h, "*."); ok {
			if strings.HasSuffix(host, "."+sub) {
				return true
			}
			continue
		}
		if h == host {
			return true
		}
	}
	return false
}

// CheckURL reports why u may not be requested: a scheme other than http
// or https, or a host the policy does not list.
func (p *Policy) CheckURL(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%w: %q in %s", ErrScheme, u.Scheme, Redact(u))
	}
	if !p.HostAllowed(u.Hostname()) {
		return fmt.Errorf("%w: %s (allowed: %s)", ErrHostNotAllowed, u.Hostname(), strings.Join(p.Hosts, ", "))
	}
	return nil
}

// CheckRedirect is an http.Client.CheckRedirect: it follows a redirect
// only to an allowed host over http or https, at most MaxRedirects times,
// and names a loop as one.
func (p *Policy) CheckRedirect(req *http.Request, via []*http.Request) error {
	if err := p.CheckURL(req.URL); err != nil {
		return fmt.Errorf("%w to %s: %w", ErrRedirect, Redact(req.URL), err)
	}
	for _, prev := range via {
		if prev.URL.String() == req.URL.String() {
			return fmt.Errorf("%w: redirect loop back to %s after %d redirects", ErrRedirect, Redact(req.URL), len(via))
		}
	}
	limit := p.MaxRedirects
	if limit == 0 {
		limit = DefaultMaxRedirects
	}
	if len(via) > limit {
		return fmt.Errorf("%w: more than %d redirects", ErrRedirect, limit)
	}
	if last := via[len(via)-1]; req.URL.Host != last.URL.Host {
		req.Header.Del("Authorization")
	}
	return nil
}

// Client returns a client with the policy's transport and redirect check;
// the policy's Timeout bounds each request. Close its idle connections
// (CloseIdleConnections) when done with it.
func (p *Policy) Client() *http.Client {
	return &http.Client{Transport: p.Transport(), CheckRedirect: p.CheckRedirect}
}

// Transport returns a transport that enforces the policy on every request
// it carries (each hop of a redirect included). Its bodies come decoded
// (Content-Encoding gzip, within MaxBytes) and marked Uncompressed, so a
// client that would decompress by Content-Type or path (colly does, for
// "gzip" in the Content-Type and ".xml.gz") sees raw, capped bytes.
func (p *Policy) Transport() *Transport {
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: dialControl(p.AllowPrivate, p.exempt)}
	return &Transport{policy: *p, base: &http.Transport{
		Proxy:             nil, // the address checked must be the one reached
		DialContext:       d.DialContext,
		ForceAttemptHTTP2: true,
		MaxIdleConns:      100,
		// As many kept per host as may be in flight: the default (2)
		// closed and dialled again most connections of a crawl whose
		// parallelism is 8.
		MaxIdleConnsPerHost:   100,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
	}}
}

// Transport is the http.RoundTripper of a Policy (see Policy.Transport).
type Transport struct {
	policy Policy
	base   *http.Transport
}

// RoundTrip checks the URL, waits its turn for the host, sends the request
// and returns the response with its body decoded and capped.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := t.policy.CheckURL(req.URL); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	release, err := t.policy.Slots.take(req.Context(), req.URL.Host)
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	if err := t.policy.Limiter.Wait(req.Context(), req.URL.Host); err != nil {
		release()
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	cancel := release
	if t.policy.Timeout > 0 {
		ctx, stop := context.WithTimeout(req.Context(), t.policy.Timeout)
		req = req.WithContext(ctx)
		cancel = func() { stop(); release() }
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		cancel()
		return nil, t.timedOut(req.Context(), err)
	}
	body := io.ReadCloser(&doneBody{r: resp.Body, t: t, ctx: req.Context(), cancel: cancel})
	if !resp.Uncompressed {
		switch enc := strings.ToLower(strings.TrimSpace(resp.Header.Get("Content-Encoding"))); enc {
		case "", "identity":
		case "gzip", "x-gzip":
			zr, err := gzip.NewReader(body)
			if err != nil {
				body.Close()
				return nil, fmt.Errorf("decoding gzip body of %s: %w", Redact(req.URL), err)
			}
			body = &gzipBody{Reader: zr, raw: body}
		default:
			body.Close()
			return nil, fmt.Errorf("%w: %q from %s", ErrEncoding, enc, Redact(req.URL))
		}
	}
	resp.Header.Del("Content-Encoding")
	resp.Header.Del("Content-Length")
	resp.ContentLength = -1
	resp.Uncompressed = true
	if t.policy.MaxBytes > 0 {
		body = &capBody{r: body, left: t.policy.MaxBytes, limit: t.policy.MaxBytes, what: t.policy.What}
	}
	resp.Body = body
	return resp, nil
}

// CloseIdleConnections closes the transport's idle connections.
func (t *Transport) CloseIdleConnections() { t.base.CloseIdleConnections() }

// timedOut names the policy's timeout in err when it is what ended the
// request.
func (t *Transport) timedOut(ctx context.Context, err error) error {
	if t.policy.Timeout > 0 && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		what := t.policy.What
		if what == "" {
			what = "request"
		}
		return fmt.Errorf("%s not complete within %s: %w", what, t.policy.Timeout, context.DeadlineExceeded)
	}
	return err
}

// doneBody is a response body that ends the request's deadline when
// closed and names the deadline when it cut the body short.
type doneBody struct {
	r      io.ReadCloser
	t      *Transport
	ctx    context.Context
	cancel context.CancelFunc
}

func (d *doneBody) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	if err != nil && err != io.EOF {
		err = d.t.timedOut(d.ctx, err)
	}
	return n, err
}

func (d *doneBody) Close() error {
	err := d.r.Close()
	d.cancel()
	return err
}

type gzipBody struct {
	*gzip.Reader
	raw io.Closer
}

func (g *gzipBody) Close() error { return errors.Join(g.Reader.Close(), g.raw.Close()) }

// TooLargeError is the error of a body over its cap; it matches
// ErrTooLarge.
type TooLargeError struct {
	// What the body is ("page", "image", "robots.txt").
	What string
	// Limit is the cap in bytes.
	Limit int64
}

// Error says what was larger than how many bytes.
func (e *TooLargeError) Error() string {
	what := e.What
	if what == "" {
		what = "body"
	}
	return fmt.Sprintf("%s larger than %d bytes", what, e.Limit)
}

// Is makes errors.Is(err, ErrTooLarge) true.
func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge }

// capBody reads at most limit bytes and fails with a TooLargeError on the
// byte after them, so a reader never mistakes a cut body for a whole one.
type capBody struct {
	r     io.ReadCloser
	left  int64
	limit int64
	what  string
}

func (c *capBody) Read(p []byte) (int, error) {
	if c.left <= 0 {
		var one [1]byte
		n, err := io.ReadFull(c.r, one[:])
		if n > 0 {
			return 0, &TooLargeError{What: c.what, Limit: c.limit}
		}
		if err == io.ErrUnexpectedEOF {
			err = io.EOF
		}
		return 0, err
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

func (c *capBody) Close() error { return c.r.Close() }

// ReadAll reads r to the end, failing with a TooLargeError (What what)
// beyond limit bytes.
func ReadAll(r io.Reader, limit int64, what string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, &TooLargeError{What: what, Limit: limit}
	}
	return data, nil
}

// Slots bounds the requests in flight to each host (host:port, as the
// Limiter keys them) through every Policy given the same Slots (see
// Policy.Slots). A nil *Slots bounds nothing.
type Slots struct {
	n    int
	mu   sync.Mutex
	host map[string]chan struct{}
}

// NewSlots returns room for n requests in flight to each host (at least
// one).
func NewSlots(n int) *Slots { return &Slots{n: max(n, 1), host: map[string]chan struct{}{}} }

// take waits for a slot of host, or returns ctx's error, and returns the
// function that gives it back, which does so once however often it is
// called.
func (s *Slots) take(ctx context.Context, host string) (release func(), err error) {
	if s == nil {
		return func() {}, nil
	}
	s.mu.Lock()
	c, ok := s.host[host]
	if !ok {
		c = make(chan struct{}, s.n)
		s.host[host] = c
	}
	s.mu.Unlock()
	select {
	case c <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	var once sync.Once
	return func() { once.Do(func() { <-c }) }, nil
}

// inFlight is how many slots of host are taken.
func (s *Slots) inFlight(host string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.host[host])
}

// Limiter spaces the starts of requests to one host (host:port) by at
// least that host's delay. A nil *Limiter never waits.
type Limiter struct {
	mu    sync.Mutex
	def   time.Duration
	delay map[string]time.Duration
	last  map[string]time.Time
}

// NewLimiter returns a limiter whose hosts wait delay between requests
// until SetDelay says otherwise.
func NewLimiter(delay time.Duration) *Limiter {
	return &Limiter{def: delay, delay: map[string]time.Duration{}, last: map[string]time.Time{}}
}

// SetDelay sets the delay of host to d, never less than the limiter's
// default nor than a delay set before: the sites sharing a limiter wait
// the longest any of their robots.txt asked for. It applies from the
// request last started, so a delay learnt from robots.txt spaces the first
// page from the robots.txt request.
func (l *Limiter) SetDelay(host string, d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.delay[host] = max(d, l.delay[host], l.def)
}

// Delay is the delay of host.
func (l *Limiter) Delay(host string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if d, ok := l.delay[host]; ok {
		return d
	}
	return l.def
}

// Wait waits for the turn of host, or returns ctx's error.
func (l *Limiter) Wait(ctx context.Context, host string) error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	d, ok := l.delay[host]
	if !ok {
		d = l.def
	}
	now := time.Now()
	at := now
	if last, ok := l.last[host]; ok && last.Add(d).After(now) {
		at = last.Add(d)
	}
	l.last[host] = at
	l.mu.Unlock()
	if wait := at.Sub(now); wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// Redact returns u as safe to log: scheme and host only, its user
// information, path, query and fragment replaced by "…" when present
// (a webhook's token is often in its path, a password in its user info).
func Redact(u *url.URL) string {
	if u == nil {
		return ""
	}
	s := u.Scheme + "://" + u.Host
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		s += "/…"
	}
	return s
}

var _ http.RoundTripper = (*Transport)(nil)
