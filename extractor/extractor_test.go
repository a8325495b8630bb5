package extractor

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/adwatch/adwatch/extractor/indicator"
	"github.com/adwatch/adwatch/internal/record"
	"github.com/adwatch/adwatch/internal/site"
)

func testExtractor(t testing.TB) *Extractor {
	data, err := os.ReadFile("../configs/sites/simclassifieds.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := site.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	m, err := indicator.LoadDir("../configs/indicators")
	if err != nil {
		t.Fatal(err)
	}
	return New([]site.Site{s}, "US", m, 1<<24)
}

const goodPage = `<html><body><article class="ad" data-id="42"><h1 class="title">New in town</h1>
<div class="meta"><span class="city">Oakland</span><time datetime="2020-10-02T23:59:59-07:00">x</time>
<span class="age">Age: 19</span><span class="poster">Rosa</span></div>
<div class="body"><p>Young and sweet. $200/hr 34-24-36</p><p>Text five1zero-8seven3-0one2three</p></div>
<div class="contact"><span class="phone">(415) 552-6789</span></div>
<div class="gallery"><img src="/img/1.jpg"></div></article></body></html>`

func TestExtract(t *testing.T) {
	e := testExtractor(t)
	fetched := time.Date(2020, 10, 3, 12, 0, 0, 0, time.UTC)
	a, err := e.Extract(&record.Page{Site: "simclassifieds", URL: "http://x/ad/42.html", FetchedAt: fetched, HTML: []byte(goodPage),
		Images: []record.ImageRef{{URL: "http://x/img/1.jpg", Error: "status 404"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != "simclassifieds:42" || a.City != "Oakland" || a.Poster != "Rosa" {
		t.Errorf("fields: %+v", a)
	}
	if want := time.Date(2020, 10, 3, 6, 59, 59, 0, time.UTC); !a.PostedAt.Equal(want) {
		t.Errorf("posted %v, want %v", a.PostedAt, want)
	}
	if got := a.PhoneNumbers(); len(got) != 2 || got[0] != "+14155526789" || got[1] != "+15108730123" {
		t.Errorf("phones %v", got)
	}
	if !a.Phones[1].Obfuscated || a.Phones[0].Obfuscated {
		t.Errorf("obfuscation flags %+v", a.Phones)
	}
	if len(a.Ages) != 1 || a.Ages[0] != 19 {
		t.Errorf("ages %v", a.Ages)
	}
	if len(a.Indicators) == 0 || a.Indicators[0].Category != "youth" {
		t.Errorf("indicators %+v, want youth first", a.Indicators)
	}
	if a.Scores["obfuscation"] != 2 || a.Scores["youth"] <= 0 {
		t.Errorf("scores %v: want obfuscation 2 and some youth", a.Scores)
	}
	if len(a.Images) != 1 || a.Images[0].Error == "" {
		t.Errorf("a failed image must be kept with its error: %+v", a.Images)
	}
}

func TestExtractBadInput(t *testing.T) {
	e := testExtractor(t)
	now := time.Now()
	for name, html := range map[string]string{
		"malformed":    `<html><body><article class="ad" data-id="7"><h1 class="title">unclosed <b><i>`,
		"invalid utf8": "<article class=\"ad\" data-id=\"8\"><div class=\"body\">\xff\xfe call 510-873-0123</div></article>",
		"empty":        "",
	} {
		a, err := e.Extract(&record.Page{Site: "simclassifieds", URL: "http://x/ad/9.html", FetchedAt: now, HTML: []byte(html)}, nil)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(a.Problems) == 0 {
			t.Errorf("%s: no problem recorded for a page without posted time", name)
		}
		if !a.PostedAt.Equal(now) {
			t.Errorf("%s: posted time should fall back to the fetch time", name)
		}
	}
	if _, err := e.Extract(&record.Page{Site: "nosuchsite"}, nil); err == nil {
		t.Error("unknown site: no error")
	}
}

func FuzzExtract(f *testing.F) {
	e := testExtractor(f)
	f.Add([]byte(goodPage))
	f.Add([]byte("<article class=ad data-id=1><time datetime=bad>"))
	f.Fuzz(func(t *testing.T, html []byte) {
		a, err := e.Extract(&record.Page{Site: "simclassifieds", URL: "http://x/ad/1.html", HTML: html}, nil)
		if err != nil {
			t.Fatalf("Extract: %v", err)
		}
		if a.ID == "" {
			t.Fatal("ad without id")
		}
	})
}

func BenchmarkExtract(b *testing.B) {
	e := testExtractor(b)
	p := &record.Page{Site: "simclassifieds", URL: "http://x/ad/42.html", HTML: []byte(goodPage)}
	b.SetBytes(int64(len(goodPage)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Extract(p, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSecondLayout extracts an ad of the simulator's second layout from
// its YAML alone (configs/sites/oldschool.yaml, testdata/oldschool.html):
// id from the URL, age from the title, a posted time written as a sentence
// with odd spacing and a lowercase "pm", the city from a breadcrumb, the
// phone from the body.
func TestSecondLayout(t *testing.T) {
	data, err := os.ReadFile("../configs/sites/oldschool.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := site.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	html, err := os.ReadFile("testdata/oldschool.html")
	if err != nil {
		t.Fatal(err)
	}
	m, err := indicator.LoadDir("../configs/indicators")
	if err != nil {
		t.Fatal(err)
	}
	e := New([]site.Site{s}, "US", m, 1<<24)
	a, err := e.Extract(&record.Page{Site: "oldschool", URL: "http://127.0.0.1:8089/old/post/98765", HTML: html, FetchedAt: time.Now(),
		Images: []record.ImageRef{{URL: "http://127.0.0.1:8089/img/p/77.jpg", Error: "not fetched in this test"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	la, _ := time.LoadLocation("America/Los_Angeles")
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"id", a.ID, "oldschool:98765"},
		{"title", a.Title, "Sweet Mia, new in town"}, // the age suffix is the age field
		{"city", a.City, "Oakland"},
		{"posted", a.PostedAt.UTC(), time.Date(2020, 10, 2, 15, 4, 0, 0, la).UTC()},
		{"ages", fmt.Sprint(a.Ages), "[24]"},
		{"phones", fmt.Sprint(a.PhoneNumbers()), "[+15108730123]"},
		{"handles", fmt.Sprint(a.Handles), "[instagram:mia.sweet_]"},
		{"problems", fmt.Sprint(a.Problems), "[]"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	cats := map[string]bool{}
	for _, in := range a.Indicators {
		cats[in.Category] = true
	}
	if !cats["third_party"] || !cats["movement"] || len(a.Phones) != 1 || !a.Phones[0].Obfuscated {
		t.Errorf("indicators %+v, phones %+v", a.Indicators, a.Phones)
	}
}

func TestRelativeTimes(t *testing.T) {
	fetched := time.Date(2020, 10, 2, 12, 0, 0, 0, time.UTC)
	yaml := "name: rel\nstart_urls: [\"http://r/\"]\nad_pages: [\"/\\\\d+$\"]\nfields:\n  id: {css: i}\n  posted_at: {css: span, layout: relative}\n"
	s, err := site.Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	e := New([]site.Site{s}, "US", indicator.New(), 1<<24)
	for _, tc := range []struct {
		text string
		want time.Duration
		ok   bool
	}{
		{"Posted 3 hours ago", 3 * time.Hour, true},
		{"an hour ago", time.Hour, true},
		{"posted 45 mins ago", 45 * time.Minute, true},
		{"2 days ago", 48 * time.Hour, true},
		{"yesterday", 24 * time.Hour, true},
		{"just now", 0, true},
		{"sometime", 0, false},
	} {
		a, err := e.Extract(&record.Page{Site: "rel", URL: "http://r/1", FetchedAt: fetched,
			HTML: []byte("<i>1</i><span>" + tc.text + "</span>")}, nil)
		if err != nil {
			t.Fatal(err)
		}
		timeProblem := strings.Contains(fmt.Sprint(a.Problems), "posted time")
		if tc.ok && (!a.PostedAt.Equal(fetched.Add(-tc.want)) || timeProblem) {
			t.Errorf("%q: posted %v (%v)", tc.text, a.PostedAt, a.Problems)
		}
		if !tc.ok && !timeProblem {
			t.Errorf("%q: no problem reported: %v", tc.text, a.Problems)
		}
	}
}

// TestCountry: numbers without a country code are read in the ad's
// country: its city's, else its site's; a "+CC" in the ad names another.
func TestCountry(t *testing.T) {
	data, err := os.ReadFile("../configs/sites/simclassifieds.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := site.Parse(append(data, []byte("\ncountry: GB\ncity_countries: {Sydney: AU}\n")...))
	if err != nil {
		t.Fatal(err)
	}
	e := New([]site.Site{s}, "US", nil, 1<<24)
	page := func(city, body string) []string {
		html := `<article class="ad" data-id="1"><h1 class="title">Hi</h1><div class="meta"><span class="city">` + city +
			`</span></div><div class="body"><p>` + body + `</p></div></article>`
		a, err := e.Extract(&record.Page{Site: "simclassifieds", URL: "http://x/ad/1.html", FetchedAt: time.Now(), HTML: []byte(html)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return a.PhoneNumbers()
	}
	for _, tc := range []struct{ city, body, want string }{
		{"London", "call 07700 900461", "+447700900461"},
		{"Sydney", "text 0491 570 158", "+61491570158"},
		{"London", "Visiting from Spain +34 612 345 678, fijo 912 345 678", "+34612345678 +34912345678"},
	} {
		if got := strings.Join(page(tc.city, tc.body), " "); got != tc.want {
			t.Errorf("%s %q: phones %q, want %q", tc.city, tc.body, got, tc.want)
		}
	}
}

// TestPhoneSources: numbers from the text, the page URL and the links in
// the ad are recorded with where they came from, each once.
func TestPhoneSources(t *testing.T) {
	e := testExtractor(t)
	html := `<article class="ad" data-id="5"><h1 class="title">Hi</h1><div class="meta"><span class="city">Oakland</span></div>
<div class="body"><p>Text 510-873-0123 or <a href="tel:+14155550176">call</a>,
<a href="https://wa.me/447700900461">WhatsApp</a>, <a href="/ad/9/510-873-0123">again</a>, <a href="/ad/5521887.html">next</a></p></div></article>`
	a, err := e.Extract(&record.Page{Site: "simclassifieds", URL: "http://x/ad/queens/646-302-4471/2/338120", FetchedAt: time.Now(), HTML: []byte(html)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range a.Phones {
		got = append(got, p.E164+" "+p.Source)
	}
	want := "+15108730123 text,+16463024471 url,+14155550176 link,+447700900461 link"
	if strings.Join(got, ",") != want {
		t.Errorf("phones %q, want %q", strings.Join(got, ","), want)
	}
}
