package web

import (
	"context"
	"encoding/json"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/net/html"

	"github.com/adwatch/adwatch/internal/bus"
	"github.com/adwatch/adwatch/internal/record"
)

const hostilePage = `<!doctype html><html><head><title>Rosa</title><meta http-equiv="refresh" content="0;url=http://evil.example/">
<link rel="stylesheet" href="http://evil.example/x.css"><style>body{background:url(http://evil.example/t.png)}</style>
<script>alert(1)</script></head>
<body onload="alert(2)"><div class="ad" id="main" style="color:red"><h1>Sweet company</h1>
<p>Call <a href="javascript:alert(3)">510 873 0123</a> or <a href="http://evil.example/more">more ads</a></p>
<img src="/img/1.jpg" onerror="alert(4)" alt="Rosa"><img src="http://tracker.example/pixel.gif">
<iframe src="http://evil.example/"></iframe><form action="/x"><input name="q"></form>
<svg><script>alert(5)</script></svg><object data="x.swf"></object><embed src="x.swf">
<p>friendly &amp; discreet</p></div></body></html>`

// publishPage puts a page on the pages stream as the crawler does.
func publishPage(t *testing.T, js jetstream.JetStream, p record.Page, sum string) {
	t.Helper()
	data, _ := json.Marshal(p)
	msg := &nats.Msg{Subject: bus.SubjectPages + "." + p.Site, Data: data, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, record.SHA256Hex([]byte(p.URL))[:40]+"/"+sum)
	if _, err := js.PublishMsg(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
}

func TestAdCapture(t *testing.T) {
	idx := openIndex(t)
	at := time.Now().UTC().Truncate(time.Second)
	imgSHA := strings.Repeat("ab", 32)
	good := record.Page{Site: "s", URL: "http://site.example/ad/1", FetchedAt: at, HTML: []byte(hostilePage),
		Images: []record.ImageRef{{URL: "http://site.example/img/1.jpg", SHA256: imgSHA}}}
	good.SHA256 = record.SHA256Hex(good.HTML)
	altered := record.Page{Site: "s", URL: "http://site.example/ad/2", FetchedAt: at, HTML: []byte("<p>edited after capture</p>")}
	altered.SHA256 = record.SHA256Hex([]byte("<p>as captured</p>"))
	ads := []record.Ad{
		{ID: "s:1", Site: "s", URL: good.URL, FetchedAt: at, PostedAt: at, PageSHA256: good.SHA256, Title: "Sweet company",
			Images: []record.Image{{URL: "http://site.example/img/1.jpg", SHA256: imgSHA}}},
		{ID: "s:2", Site: "s", URL: altered.URL, FetchedAt: at, PostedAt: at, PageSHA256: altered.SHA256},
		{ID: "s:3", Site: "s", URL: "http://site.example/ad/3", FetchedAt: at, PostedAt: at, PageSHA256: "gone"},
	}
	if _, err := idx.Put(ads); err != nil {
		t.Fatal(err)
	}
	ts := serve(t, idx, nil)
	// Another site's page and another version of ad 1 around it.
	publishPage(t, ts.b.JS, record.Page{Site: "other", URL: good.URL, FetchedAt: at, HTML: []byte("x")}, good.SHA256+"x")
	publishPage(t, ts.b.JS, good, good.SHA256)
	publishPage(t, ts.b.JS, altered, altered.SHA256)
	st, err := ts.b.JS.Stream(context.Background(), bus.StreamPages)
	if err != nil {
		t.Fatal(err)
	}
	ts.srv.Pages = st

	for _, tc := range []struct {
		ad       string
		status   string
		verified bool
	}{{"s:1", "verified", true}, {"s:2", "altered", false}, {"s:3", "not_kept", false}} {
		resp, err := ts.c.Get(ts.URL + "/api/ads/" + tc.ad + "/capture")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var c Capture
		if err := json.Unmarshal(body, &c); err != nil || resp.StatusCode != 200 {
			t.Fatalf("capture of %s: %d %v %s", tc.ad, resp.StatusCode, err, body)
		}
		if c.Status != tc.status || c.Verified != tc.verified || c.AdID != tc.ad || c.Ad.ID != tc.ad {
			t.Errorf("capture of %s: status %q verified %v, want %q %v", tc.ad, c.Status, c.Verified, tc.status, tc.verified)
		}
		if tc.ad != "s:1" {
			continue
		}
		if !c.FetchedAt.Equal(at) || c.URL != good.URL || c.StoredSHA256 != good.SHA256 {
			t.Errorf("capture of s:1: %+v", c)
		}
		checkSanitised(t, c.HTML)
		for _, want := range []string{`<img src="/api/images/` + imgSHA + `" alt="Rosa">`, "<h1>Sweet company</h1>", "<a>510 873 0123</a>", "<a>more ads</a>", "friendly &amp; discreet"} {
			if !strings.Contains(c.HTML, want) {
				t.Errorf("the capture lacks %q:\n%s", want, c.HTML)
			}
		}
		for _, bad := range []string{"evil.example", "tracker.example", "style", "class", "id=", "alert", "Rosa</title>"} {
			if strings.Contains(c.HTML, bad) {
				t.Errorf("the capture keeps %q:\n%s", bad, c.HTML)
			}
		}
	}
	resp, err := ts.c.Get(ts.URL + "/api/ads/nope/capture")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("capture of an unknown ad: %d, want 404", resp.StatusCode)
	}
}

var onAttr = regexp.MustCompile(`(?i)\son[a-z]*\s*=`)

// checkSanitised fails when out has a script, a javascript: URL, an
// event handler, an element or attribute outside the allow-lists, or an
// image not served by adwatch.
func checkSanitised(t *testing.T, out string) {
	t.Helper()
	low := strings.ToLower(out)
	if strings.Contains(low, "<script") || strings.Contains(low, "javascript:") || onAttr.MatchString(out) {
		t.Fatalf("sanitised output has script: %q", out)
	}
	z := html.NewTokenizer(strings.NewReader(out))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return
		case html.StartTagToken, html.SelfClosingTagToken:
			tok := z.Token()
			if !keptElements[tok.Data] {
				t.Fatalf("sanitised output has <%s>: %q", tok.Data, out)
			}
			for _, a := range tok.Attr {
				if a.Key == "src" && tok.Data == "img" && strings.HasPrefix(a.Val, "/api/images/") {
					continue
				}
				if !keptAttrs[a.Key] {
					t.Fatalf("sanitised output has attribute %s on <%s>: %q", a.Key, tok.Data, out)
				}
			}
		}
	}
}

func FuzzSanitize(f *testing.F) {
	for _, s := range []string{hostilePage, `<a href="java&#x09;script:x">x</a>`, `<img src=x onerror=alert(1)>`,
		`<p title="a onclick=b">javascript:void(0)</p>`, `<scr<script>ipt>`, `<svg><a xlink:href="javascript:x">`,
		`<math><mi><style><img src=x onerror=1>`, `<noscript><p title="</noscript><img src=x onerror=1>">`,
		"<img src=/img/1.jpg>", `<table><td colspan="2" onmouseover=x>`} {
		f.Add([]byte(s))
	}
	images := map[string]string{"http://site.example/img/1.jpg": strings.Repeat("ab", 32), "x": "not a sha"}
	f.Fuzz(func(t *testing.T, page []byte) {
		checkSanitised(t, sanitize(page, "http://site.example/ad/1", images))
	})
}
