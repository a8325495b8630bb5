package fetch

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestBlocked(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"127.0.0.1", "loopback"},
		{"127.3.4.5", "loopback"},
		{"::1", "loopback"},
		{"::ffff:127.0.0.1", "loopback"},
		{"10.1.2.3", "private"},
		{"172.16.0.1", "private"},
		{"192.168.1.1", "private"},
		{"fc00::1", "private"},
		{"fd12:3456::1", "private"},
		{"169.254.169.254", "link-local"},
		{"fe80::1", "link-local"},
		{"fe80::1%eth0", "link-local"},
		{"64:ff9b::a9fe:a9fe", "link-local"}, // 169.254.169.254 through NAT64
		{"224.0.0.1", "multicast"},
		{"239.255.255.250", "multicast"},
		{"ff02::1", "multicast"},
		{"0.0.0.0", "unspecified"},
		{"::", "unspecified"},
		{"0.1.2.3", "this-network"},
		{"100.64.0.1", "carrier-grade NAT"},
		{"100.127.255.254", "carrier-grade NAT"},
		{"255.255.255.255", "broadcast"},
		{"240.0.0.1", "reserved"},
		{"8.8.8.8", ""},
		{"93.184.216.34", ""},
		{"100.128.0.1", ""},
		{"2606:4700::1111", ""},
		{"64:ff9b::808:808", ""}, // 8.8.8.8 through NAT64
	} {
		if got := Blocked(netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("Blocked(%s) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}

func TestHostAllowed(t *testing.T) {
	p := Policy{Hosts: []string{"ads.example", "*.cdn.example"}}
	for _, tc := range []struct {
		host string
		want bool
	}{
		{"ads.example", true},
		{"ADS.example.", true},
		{"img.cdn.example", true},
		{"a.b.cdn.example", true},
		{"cdn.example", false},
		{"evilcdn.example", false},
		{"ads.example.evil", false},
		{"127.0.0.1", false},
	} {
		if got := p.HostAllowed(tc.host); got != tc.want {
			t.Errorf("HostAllowed(%q) = %v, want %v", tc.host, got, tc.want)
		}
	}
	if !(&Policy{}).HostAllowed("anything.example") {
		t.Error("a policy without hosts refuses a host")
	}
}

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://hooks.example/services/T0/B0/secret", "https://hooks.example/…"},
		{"https://user:pw@hooks.example", "https://hooks.example/…"},
		{"https://hooks.example/?token=x", "https://hooks.example/…"},
		{"https://hooks.example/", "https://hooks.example"},
	} {
		u, _ := url.Parse(tc.in)
		if got := Redact(u); got != tc.want {
			t.Errorf("Redact(%s) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// bomb is size zero bytes, gzipped (about a thousandth of it).
func bomb(t testing.TB, size int) []byte {
	t.Helper()
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	chunk := make([]byte, 1<<16)
	for n := 0; n < size; n += len(chunk) {
		zw.Write(chunk)
	}
	zw.Close()
	return b.Bytes()
}

// get fetches u with a client of p and reads the body to the end.
func get(t *testing.T, p Policy, u string, header http.Header) ([]byte, error) {
	t.Helper()
	c := p.Client()
	defer c.CloseIdleConnections()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// TestFetch: the policy's refusals and bounds, each against a loopback
// server.
func TestFetch(t *testing.T) {
	z := bomb(t, 16<<20)
	var hits sync.Map
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "hello") })
	mux.HandleFunc("/bomb-encoding", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Type", "text/html")
		w.Write(z)
	})
	mux.HandleFunc("/bomb-type", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/gzip")
		w.Write(z)
	})
	mux.HandleFunc("/bomb.xml.gz", func(w http.ResponseWriter, r *http.Request) { w.Write(z) })
	mux.HandleFunc("/brotli", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "br")
		w.Write([]byte("whatever"))
	})
	mux.HandleFunc("/drip", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/jpeg")
		for i := 0; i < 200; i++ {
			if _, err := w.Write([]byte{0xff}); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	mux.HandleFunc("/loop/a", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop/b", http.StatusFound) })
	mux.HandleFunc("/loop/b", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop/a", http.StatusFound) })
	mux.HandleFunc("/chain/", func(w http.ResponseWriter, r *http.Request) {
		n := strings.TrimPrefix(r.URL.Path, "/chain/")
		hits.Store(n, true)
		http.Redirect(w, r, "/chain/"+n+"x", http.StatusFound)
	})
	mux.HandleFunc("/to", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Query().Get("u"), http.StatusFound)
	})
	ts := httptest.NewServer(mux)
	defer ts.Close()
	_, port, _ := net.SplitHostPort(ts.Listener.Addr().String())
	own := Policy{Hosts: []string{"127.0.0.1", "127.0.0.2", "localhost"}, MaxBytes: 1 << 20, What: "page", exempt: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}
	open := own
	open.AllowPrivate = true
	open.exempt = nil
	timed := open
	timed.What, timed.Timeout = "image", 300*time.Millisecond

	for _, tc := range []struct {
		name   string
		policy Policy
		url    string
		header http.Header
		is     error  // the error, by errors.Is; nil for none
		want   string // in the error's text, or the body when is is nil
	}{
		{"allowed", own, ts.URL + "/ok", nil, nil, "hello"},
		{"loopback without allow_private_addresses", Policy{}, ts.URL + "/ok", nil, ErrBlockedAddress, "127.0.0.1 is a loopback address"},
		{"loopback by name (checked after DNS)", Policy{}, "http://localhost:" + port + "/ok", nil, ErrBlockedAddress, "is a loopback address"},
		{"metadata address", Policy{}, "http://169.254.169.254/latest/meta-data/", nil, ErrBlockedAddress, "169.254.169.254 is a link-local address"},
		{"link-local IPv6", Policy{}, "http://[fe80::1]:" + port + "/", nil, ErrBlockedAddress, "link-local"},
		{"unknown host", Policy{Hosts: []string{"ads.example"}}, ts.URL + "/ok", nil, ErrHostNotAllowed, "host not allowed: 127.0.0.1"},
		{"scheme", own, "ftp://127.0.0.1/x", nil, ErrScheme, `"ftp"`},
		{"redirect to a private address", own, ts.URL + "/to?u=" + url.QueryEscape("http://127.0.0.2:"+port+"/ok"), nil, ErrBlockedAddress, "127.0.0.2 is a loopback address"},
		{"redirect to the metadata address", open, ts.URL + "/to?u=" + url.QueryEscape("http://169.254.169.254/latest/meta-data/"), nil, ErrHostNotAllowed, "169.254.169.254"},
		{"redirect to an unknown host", open, ts.URL + "/to?u=" + url.QueryEscape("http://elsewhere.example/"), nil, ErrRedirect, "host not allowed: elsewhere.example"},
		{"redirect to another scheme", open, ts.URL + "/to?u=" + url.QueryEscape("file:///etc/passwd"), nil, ErrScheme, `"file"`},
		{"redirect loop", open, ts.URL + "/loop/a", nil, ErrRedirect, "redirect loop back to"},
		{"too many redirects", open, ts.URL + "/chain/x", nil, ErrRedirect, "more than 5 redirects"},
		{"gzip bomb by Content-Encoding", open, ts.URL + "/bomb-encoding", nil, ErrTooLarge, "page larger than 1048576 bytes"},
		{"gzip bomb by Content-Encoding, asked for", open, ts.URL + "/bomb-encoding", http.Header{"Accept-Encoding": {"gzip"}}, ErrTooLarge, "page larger than 1048576 bytes"},
		{"unknown Content-Encoding", open, ts.URL + "/brotli", http.Header{"Accept-Encoding": {"br"}}, ErrEncoding, `"br"`},
		{"slow drip", timed, ts.URL + "/drip", nil, context.DeadlineExceeded, "image not complete within 300ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body, err := get(t, tc.policy, tc.url, tc.header)
			if tc.is == nil {
				if err != nil || string(body) != tc.want {
					t.Errorf("got %q, %v; want %q", body, err, tc.want)
				}
				return
			}
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %v containing %q", err, tc.is, tc.want)
			}
		})
	}

	// A body labelled gzip by its type or path comes raw, never inflated.
	for _, path := range []string{"/bomb-type", "/bomb.xml.gz"} {
		body, err := get(t, open, ts.URL+path, nil)
		if err != nil || !bytes.Equal(body, z) {
			t.Errorf("%s: %d bytes, %v; want the %d gzip bytes as sent", path, len(body), err, len(z))
		}
	}
}

// TestCapBody: a body of exactly the limit is whole, one byte more fails.
func TestCapBody(t *testing.T) {
	for _, tc := range []struct {
		size, limit int
		ok          bool
	}{{10, 10, true}, {11, 10, false}, {0, 10, true}, {1 << 20, 1 << 20, true}} {
		c := &capBody{r: io.NopCloser(bytes.NewReader(make([]byte, tc.size))), left: int64(tc.limit), limit: int64(tc.limit), what: "image"}
		got, err := io.ReadAll(c)
		if tc.ok != (err == nil) || (tc.ok && len(got) != tc.size) {
			t.Errorf("%d bytes under a cap of %d: %d bytes, %v", tc.size, tc.limit, len(got), err)
		}
		if !tc.ok && (!errors.Is(err, ErrTooLarge) || err.Error() != fmt.Sprintf("image larger than %d bytes", tc.limit)) {
			t.Errorf("%d bytes under a cap of %d: error %v", tc.size, tc.limit, err)
		}
	}
}

// TestLimiter: the starts of requests to one host are at least its delay
// apart, another host does not wait for it, and a delay set later applies
// from the last start.
func TestLimiter(t *testing.T) {
	l := NewLimiter(0)
	ctx := context.Background()
	l.SetDelay("a:1", 100*time.Millisecond)
	var starts []time.Time
	for range 3 {
		if err := l.Wait(ctx, "a:1"); err != nil {
			t.Fatal(err)
		}
		starts = append(starts, time.Now())
	}
	// Turns are given at fixed slots: request i starts no sooner than i
	// delays after the first. A loaded machine may return from a wait
	// late, so each gap alone proves nothing; the sum does (with a little
	// slack for the first return).
	for i := 1; i < len(starts); i++ {
		if since := starts[i].Sub(starts[0]); since < time.Duration(i)*100*time.Millisecond-20*time.Millisecond {
			t.Errorf("request %d to a host %s after the first, want at least %s", i, since, time.Duration(i)*100*time.Millisecond)
		}
	}
	begin := time.Now()
	if err := l.Wait(ctx, "b:1"); err != nil || time.Since(begin) > 50*time.Millisecond {
		t.Errorf("another host waited %s (%v)", time.Since(begin), err)
	}
	l.SetDelay("b:1", 100*time.Millisecond)
	if err := l.Wait(ctx, "b:1"); err != nil || time.Since(begin) < 100*time.Millisecond {
		t.Errorf("a delay set after a request: the next came %s after it (%v)", time.Since(begin), err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := l.Wait(cctx, "b:1"); !errors.Is(err, context.Canceled) {
		t.Errorf("a wait with a cancelled context: %v", err)
	}
	var none *Limiter
	if err := none.Wait(ctx, "a:1"); err != nil {
		t.Errorf("nil limiter: %v", err)
	}
}

// FuzzBlocked: an address judges as the IPv4 address it maps.
func FuzzBlocked(f *testing.F) {
	f.Add([]byte{127, 0, 0, 1})
	f.Add([]byte{169, 254, 169, 254})
	f.Add([]byte{8, 8, 8, 8})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) != 4 {
			return
		}
		v4 := netip.AddrFrom4([4]byte(b))
		mapped := netip.AddrFrom16(v4.As16())
		if Blocked(v4) != Blocked(mapped) {
			t.Errorf("Blocked(%s) = %q but Blocked(%s) = %q", v4, Blocked(v4), mapped, Blocked(mapped))
		}
	})
}

// TestSlots: two policies given the same Slots never have more requests
// in flight to one host together than it holds; another host has slots of
// its own; a slot comes back when the body is closed (twice is once) and
// when the request fails; a request waiting for one gives up with its
// context.
func TestSlots(t *testing.T) {
	release := make(chan struct{})
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			<-release
		}
		fmt.Fprint(w, "ok")
	})
	srv, other := httptest.NewServer(handler), httptest.NewServer(handler)
	defer srv.Close()
	defer other.Close()
	defer close(release)
	host := strings.TrimPrefix(srv.URL, "http://")
	slots := NewSlots(2)
	exempt := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	a := Policy{Hosts: []string{"127.0.0.1"}, Slots: slots, exempt: exempt}
	b := a
	b.What = "image"
	ta, tb := a.Transport(), b.Transport()
	defer ta.CloseIdleConnections()
	defer tb.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := func(ctx context.Context, tr *Transport, base, path string) (*http.Response, error) {
		r, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		return tr.RoundTrip(r)
	}
	// Two bodies left open take both slots of the host.
	r1, err := req(ctx, ta, srv.URL, "/")
	if err != nil {
		t.Fatal(err)
	}
	r2, err := req(ctx, tb, srv.URL, "/")
	if err != nil {
		t.Fatal(err)
	}
	short, stop := context.WithTimeout(ctx, 200*time.Millisecond)
	defer stop()
	if _, err := req(short, ta, srv.URL, "/"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a third request with both slots taken: %v, want it to wait until its context ends", err)
	}
	ro, err := req(ctx, tb, other.URL, "/")
	if err != nil {
		t.Fatalf("a request to another host with the first host's slots taken: %v", err)
	}
	ro.Body.Close()
	r1.Body.Close()
	r1.Body.Close() // a second close gives back nothing more
	r3, err := req(ctx, tb, srv.URL, "/")
	if err != nil {
		t.Fatalf("a request after a body was closed: %v", err)
	}
	if n := slots.inFlight(host); n != 2 {
		t.Errorf("%d slots taken with two bodies open, want 2", n)
	}
	r2.Body.Close()
	r3.Body.Close()
	if n := slots.inFlight(host); n != 0 {
		t.Errorf("%d slots taken after every body was closed", n)
	}
	// A request that fails gives its slot back (the server may still be
	// answering it).
	bad := Policy{Hosts: []string{"127.0.0.1"}, Slots: slots, Timeout: 100 * time.Millisecond, exempt: exempt}
	tbad := bad.Transport()
	defer tbad.CloseIdleConnections()
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			if _, err := req(ctx, tbad, srv.URL, "/hold"); err == nil {
				t.Error("a request held past its timeout succeeded")
			}
		})
	}
	wg.Wait()
	if n := slots.inFlight(host); n != 0 {
		t.Errorf("%d slots taken after six requests failed", n)
	}
}
