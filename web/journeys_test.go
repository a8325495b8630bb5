package web

import (
	"bytes"
	"context"
	"encoding/json"
	"image/jpeg"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/adwatch/adwatch/alerts"
	"github.com/adwatch/adwatch/audit"
	"github.com/adwatch/adwatch/auth"
	"github.com/adwatch/adwatch/extractor/imagehash"
	"github.com/adwatch/adwatch/extractor/indicator"
	"github.com/adwatch/adwatch/internal/bus"
	"github.com/adwatch/adwatch/internal/bus/bustest"
	"github.com/adwatch/adwatch/internal/record"
	"github.com/adwatch/adwatch/internal/sim"
)

// The browser journeys: what investigators, supervisors and analysts do
// in the workspace, each in a real headless Chromium, each checked in the
// audit log afterwards. With ADWATCH_SCREENSHOTS=1 they write a full-page
// screenshot of each page to docs/screenshots/.

// fixture is the data the journeys work on: two persons' profiles in one
// network (they share a phone), one more profile a year before, alerts.
type fixture struct {
	rosa, mia, lena string // profile ids
	network         string
	photos          map[string][]byte // JPEG bytes by name
	dir             string            // temporary files
}

// journeyServer serves the fixture.
func journeyServer(t *testing.T) (*site, fixture) {
	t.Helper()
	b := bustest.New(t)
	ctx := context.Background()
	fx := fixture{photos: map[string][]byte{}, dir: t.TempDir()}
	imgs := map[string]record.Image{}
	for i, name := range []string{"p1", "p2", "p3", "p4"} {
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, sim.Picture(7, i+1), &jpeg.Options{Quality: 88}); err != nil {
			t.Fatal(err)
		}
		fp, err := imagehash.Hash(buf.Bytes(), 1<<24)
		if err != nil {
			t.Fatal(err)
		}
		img := record.Image{URL: "https://img.listings.example/" + name + ".jpg", SHA256: fp.SHA256, PHash: imagehash.Hex(fp.PHash), Width: 96, Height: 96}
		for _, c := range fp.Crops {
			img.PHashCrops = append(img.PHashCrops, imagehash.Hex(c))
		}
		if _, err := b.Images.PutBytes(ctx, fp.SHA256, buf.Bytes()); err != nil {
			t.Fatal(err)
		}
		imgs[name] = img
		fx.photos[name] = buf.Bytes()
	}
	m, err := indicator.LoadDir(filepath.Join("..", "configs", "indicators"))
	if err != nil {
		t.Fatal(err)
	}
	day := func(y, mo, d, h int) time.Time { return time.Date(y, time.Month(mo), d, h, 0, 0, 0, time.UTC) }
	ad := func(id, city, poster, title, body string, at time.Time, ages []int, phones []record.Phone, handles []string, photos ...string) record.Ad {
		a := record.Ad{ID: "listings:" + id, Site: "listings", URL: "https://listings.example/" + strings.ToLower(strings.ReplaceAll(city, " ", "-")) + "/" + id,
			PostedAt: at, FetchedAt: at.Add(17 * time.Minute), City: city, Title: title, Body: body, Poster: poster, Phones: phones, Ages: ages,
			Handles: handles, PageSHA256: record.SHA256Hex([]byte(id))}
		if a.Handles == nil {
			a.Handles = []string{}
		}
		for _, p := range photos {
			a.Images = append(a.Images, imgs[p])
		}
		a.Indicators, a.Scores = m.Match(a.Title + "\n" + a.Body)
		for _, p := range phones {
			if p.Obfuscated {
				a.Indicators = indicator.Insert(a.Indicators, record.Indicator{Category: "obfuscation", Term: "obfuscated phone number", Weight: 2, Offset: -1})
			}
		}
		return a
	}
	rosa := record.Phone{E164: "+15108730123"}
	ads := []record.Ad{
		ad("101", "Oakland", "Rosa", "Sweet company in Oakland", "Friendly and discreet. New in town, leaving soon. Call 510 873 0123.",
			day(2020, 10, 1, 9), []int{21}, []record.Phone{rosa}, nil, "p1"),
		ad("102", "Oakland", "Rosa", "Relaxing time, new to this", "Young and sweet, ask about my friends. five one zero 873 zero one two three",
			day(2020, 10, 2, 12), []int{19}, []record.Phone{{E164: "+15108730123", Obfuscated: true}}, nil, "p1", "p2"),
		ad("103", "San Jose", "Rosa", "Just visiting San Jose", "Last night in San Jose. IG: rosa.b 510.873.0123 – text only",
			day(2020, 10, 3, 18), []int{23}, []record.Phone{rosa}, []string{"instagram:rosa.b"}, "p2"),
		ad("201", "San Jose", "Mia", "Two girl special this weekend", "Mia and her friend. Call 408 555 0123 or 510 873 0123.",
			day(2020, 10, 2, 20), []int{24}, []record.Phone{{E164: "+14085550123"}, rosa}, nil, "p3"),
		ad("202", "San Jose", "Mia", "Mia is back", "Upscale and relaxed, 408-555-0123.",
			day(2020, 10, 3, 10), []int{24}, []record.Phone{{E164: "+14085550123"}}, nil, "p3"),
		ad("301", "Oakland", "Lena", "Lena, Oakland", "Quiet and kind. 510 555 0199",
			day(2019, 10, 4, 15), []int{27}, []record.Phone{{E164: "+15105550199"}}, nil, "p4"),
	}
	// Each ad's page as captured, kept on the pages stream; ad 102 was
	// changed once after it was first captured.
	pages := make([]record.Page, len(ads))
	for i := range ads {
		a := &ads[i]
		html := []byte("<!doctype html><html><body><div class=\"ad\"><h1>" + a.Title + "</h1><p>" + a.Body + "</p><p>Posted by " + a.Poster +
			" in " + a.City + "</p><img src=\"" + a.Images[0].URL + "\" alt=\"photo\"></div></body></html>")
		a.PageSHA256 = record.SHA256Hex(html)
		pages[i] = record.Page{Site: a.Site, URL: a.URL, FetchedAt: a.FetchedAt, HTML: html, SHA256: a.PageSHA256,
			Images: []record.ImageRef{{URL: a.Images[0].URL, SHA256: a.Images[0].SHA256}}}
	}
	ads[1].Versions = []record.AdVersion{{Version: "v1", PageSHA256: record.SHA256Hex([]byte("102 before")), FetchedAt: day(2020, 10, 2, 8),
		Title: "New to this", Body: "Young and sweet, new in Oakland. five one zero 873 zero one two three", Phones: []string{"+15108730123"}, Ages: []int{19}}}
	idx := openIndex(t)
	if _, err := idx.Put(ads); err != nil {
		t.Fatal(err)
	}
	fx.rosa, fx.mia, fx.lena = idx.Linker.Profile("listings:101"), idx.Linker.Profile("listings:201"), idx.Linker.Profile("listings:301")
	fx.network = idx.Linker.Network(fx.rosa)
	if fx.rosa == fx.mia || fx.network == "" {
		t.Fatalf("fixture: rosa %s, mia %s, network %s", fx.rosa, fx.mia, fx.network)
	}
	youngAt := strings.Index(ads[1].Title+"\n"+ads[1].Body, "Young")
	for _, a := range []record.Alert{
		{Key: "possible_minor." + fx.rosa, Rule: "possible_minor", Severity: "critical", Entity: "profile:" + fx.rosa,
			Summary: "stated age 19 with youthful language", Status: record.StatusNew, AdCount: 1, Ads: []string{"listings:102"},
			Profiles: []string{fx.rosa}, Phones: []string{"+15108730123"}, Images: []string{imgs["p2"].SHA256}, Cities: []string{"Oakland"},
			Terms: []record.TermHit{{Ad: "listings:102", Category: "third_party", Term: "ask about my friends", Offset: 40},
				{Ad: "listings:102", Category: "youth", Term: "young", Offset: youngAt}, {Ad: "listings:102", Category: "youth", Term: "new to this", Offset: 15}},
			FirstSeen: day(2020, 10, 2, 13), Updated: day(2020, 10, 2, 13)},
		{Key: "shared_phone.15108730123", Rule: "shared_phone", Severity: "high", Entity: "phone:+15108730123",
			Summary: "one phone in 2 profiles", Status: record.StatusNew, AdCount: 4, Ads: []string{"listings:101", "listings:102", "listings:103", "listings:201"},
			Profiles: []string{fx.rosa, fx.mia}, Phones: []string{"+15108730123"}, Cities: []string{"Oakland", "San Jose"},
			FirstSeen: day(2020, 10, 2, 21), Updated: day(2020, 10, 2, 21)},
		{Key: "circuit." + fx.rosa, Rule: "circuit", Severity: "medium", Entity: "profile:" + fx.rosa,
			Summary: "advertised in 2 cities in 3 days", Status: record.StatusAcknowledged, AdCount: 3, Profiles: []string{fx.rosa}, Cities: []string{"Oakland", "San Jose"},
			History:   []record.StatusChange{{Status: record.StatusAcknowledged, By: "sam", At: day(2020, 10, 4, 9), Note: "known to the unit"}},
			FirstSeen: day(2020, 10, 3, 19), Updated: day(2020, 10, 4, 9)},
		{Key: "third_party_language." + fx.mia, Rule: "third_party_language", Severity: "medium", Entity: "profile:" + fx.mia,
			Summary: "ads written for several persons", Status: record.StatusNew, AdCount: 1, Ads: []string{"listings:201"}, Profiles: []string{fx.mia},
			Cities: []string{"San Jose"}, Terms: []record.TermHit{{Ad: "listings:201", Category: "third_party", Term: "two girl special"}},
			FirstSeen: day(2020, 10, 2, 21), Updated: day(2020, 10, 2, 22)},
	} {
		data, _ := json.Marshal(a)
		if _, err := b.Alerts.Put(ctx, a.Key, data); err != nil {
			t.Fatal(err)
		}
	}
	ts := serve(t, idx, b)
	for i, p := range pages {
		publishPage(t, b.JS, p, ads[i].PageSHA256)
	}
	st, err := b.JS.Stream(ctx, bus.StreamPages)
	if err != nil {
		t.Fatal(err)
	}
	ts.srv.Pages = st
	return ts, fx
}

// shot writes a full-page screenshot of the page to
// docs/screenshots/<name>.png when ADWATCH_SCREENSHOTS=1.
func shot(t *testing.T, name string) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		if os.Getenv("ADWATCH_SCREENSHOTS") != "1" {
			return nil
		}
		var png []byte
		// Let lazy images and fonts settle.
		if err := chromedp.Sleep(300 * time.Millisecond).Do(ctx); err != nil {
			return err
		}
		if err := chromedp.FullScreenshot(&png, 100).Do(ctx); err != nil {
			return err
		}
		dir := filepath.Join("..", "docs", "screenshots")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		t.Logf("screenshot %s.png", name)
		return os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
	})
}

// viewport sizes the page like a laptop screen.
func viewport() chromedp.Action { return chromedp.EmulateViewport(1360, 900) }

// fetched is what fetchInPage reports of a response.
type fetched struct {
	Status int    `json:"status"`
	Type   string `json:"type"`
	Size   int    `json:"size"`
	Text   string `json:"text"`
}

// fetchInPage fetches a URL from the page's own script context (its
// cookie, its origin) and reports the answer: the URL is a JS expression.
func fetchInPage(urlExpr string, res *fetched) chromedp.Tasks {
	return chromedp.Tasks{
		chromedp.Evaluate(`window.__fetched = null; fetch(`+urlExpr+`).then(async r => { const b = await r.arrayBuffer();
			window.__fetched = {status: r.status, type: r.headers.get('Content-Type') || '', size: b.byteLength,
			text: (r.headers.get('Content-Type') || '').startsWith('text/') ? new TextDecoder().decode(b) : ''}; }); true`, nil),
		chromedp.Poll(`window.__fetched`, res),
	}
}

// audited reports whether the audit log holds an entry like want: its
// empty fields match anything.
func audited(t *testing.T, ts *site, want audit.Entry) bool {
	t.Helper()
	for _, e := range ts.entries(t) {
		if (want.User == "" || e.User == want.User) && (want.Action == "" || e.Action == want.Action) &&
			(want.Object == "" || e.Object == want.Object) && (want.Query == "" || e.Query == want.Query) &&
			(want.Case == "" || e.Case == want.Case) && (want.Outcome == "" || e.Outcome == want.Outcome) {
			return true
		}
	}
	return false
}

func mustAudit(t *testing.T, ts *site, want audit.Entry) {
	t.Helper()
	if !audited(t, ts, want) {
		t.Errorf("the audit log lacks %+v", want)
	}
}

// TestJourneySearchProfileNetwork: an investigator searches a phone number
// written in words, for a case, filtered to one city; opens the profile;
// opens its network.
func TestJourneySearchProfileNetwork(t *testing.T) {
	ts, fx := journeyServer(t)
	ctx := browser(t)
	var count, out, profile, marks string
	var photos int
	err := chromedp.Run(ctx, viewport(),
		ts.loginBrowser(auth.Investigator),
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible(`#alerts li[data-key]`, chromedp.ByQuery),
		shot(t, "start"),
		chromedp.Navigate(ts.URL+"/search"),
		chromedp.WaitVisible("#q", chromedp.ByID),
		chromedp.SendKeys("#q", "five one zero 873 0123", chromedp.ByID),
		chromedp.SendKeys("#case", "OPD/26-117", chromedp.ByID),
		chromedp.SendKeys("#fcity", "Oakland", chromedp.ByID),
		chromedp.Click("#f button", chromedp.ByQuery),
		chromedp.WaitVisible("#count", chromedp.ByID),
		chromedp.Text("#count", &count, chromedp.ByID),
		chromedp.Text("#out", &out, chromedp.ByID),
		shot(t, "search"),
		chromedp.Click(`#out a[data-profile="`+fx.rosa+`"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#profile-title", chromedp.ByID),
		chromedp.WaitVisible(`#profile-alerts li[data-key]`, chromedp.ByQuery),
		chromedp.Poll(`[...document.querySelectorAll('#photos img')].every(i => i.complete && i.naturalWidth > 0)`, nil),
		chromedp.Text("#profile", &profile, chromedp.ByID),
		chromedp.Evaluate(`[...document.querySelectorAll('mark.ind.cat-youth')].map(m => m.textContent).join('|')`, &marks),
		chromedp.Evaluate(`document.querySelectorAll('#photos img').length`, &photos),
		shot(t, "profile"),
	)
	if err != nil {
		t.Fatal(err)
	}
	if count != "2 ads in 1 profile" {
		t.Errorf("count %q, want 2 ads in 1 profile (the San Jose ads filtered out)", count)
	}
	if !strings.Contains(out, "Sweet company in Oakland") || strings.Contains(out, "Just visiting") || !strings.Contains(out, "hidden by the filters") {
		t.Errorf("results: %q", out)
	}
	for _, want := range []string{"3 ads", "+15108730123", "instagram:rosa.b", "19, 21, 23", "Possible minor", "https://listings.example/oakland/102", "Why these ads are one profile"} {
		if !strings.Contains(profile, want) {
			t.Errorf("profile page lacks %q", want)
		}
	}
	if marks != "Young|new to this" && marks != "new to this|Young" {
		t.Errorf("youth terms marked: %q", marks)
	}
	if photos != 2 {
		t.Errorf("%d photos, want the profile's 2", photos)
	}
	mustAudit(t, ts, audit.Entry{User: "ivy", Action: audit.ActionSearch, Query: "five one zero 873 0123", Case: "OPD/26-117"})
	mustAudit(t, ts, audit.Entry{User: "ivy", Action: audit.ActionViewProfile, Object: fx.rosa, Case: "OPD/26-117"})
	mustAudit(t, ts, audit.Entry{User: "ivy", Action: audit.ActionViewImage})

	var network string
	err = chromedp.Run(ctx,
		chromedp.Click("#network-link", chromedp.ByID),
		chromedp.WaitVisible("#network-title", chromedp.ByID),
		chromedp.WaitVisible("#members", chromedp.ByID),
		chromedp.Text("#network", &network, chromedp.ByID),
		shot(t, "network"),
	)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(network, fx.mia) || !strings.Contains(network, fx.rosa) {
		t.Errorf("network page: %q", network)
	}
	for _, want := range []string{"2 profiles over all time, 0 in the last 30 days", "+15108730123", "Identifiers"} {
		if !strings.Contains(network, want) {
			t.Errorf("network page lacks %q: %q", want, network)
		}
	}
	var graph int
	if err := chromedp.Run(ctx, chromedp.Poll(`document.querySelector('#graph') ? (document.querySelector('#graph').complete && document.querySelector('#graph').naturalWidth) : -1`, &graph)); err != nil {
		t.Fatal(err)
	}
	if graph <= 0 {
		t.Errorf("network graph: %d (no image drawn)", graph)
	}
	mustAudit(t, ts, audit.Entry{User: "ivy", Action: audit.ActionViewNetwork, Object: fx.network})
}

// TestJourneyAdCapture: an investigator opens an ad: its extracted
// fields, and the page as captured with its SHA-256.
func TestJourneyAdCapture(t *testing.T) {
	ts, _ := journeyServer(t)
	ctx := browser(t)
	var fields, capture string
	err := chromedp.Run(ctx, viewport(),
		ts.loginBrowser(auth.Investigator),
		chromedp.Navigate(ts.URL+"/ads/listings:102"),
		chromedp.WaitVisible("#ad-title", chromedp.ByID),
		chromedp.WaitVisible("#capture", chromedp.ByID),
		chromedp.Text("#fields", &fields, chromedp.ByID),
		chromedp.Text("#capture", &capture, chromedp.ByID),
		shot(t, "ad"),
	)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"+15108730123", "written to hide it", "Possible minor", "young", "https://listings.example/oakland/102"} {
		if !strings.Contains(fields, want) {
			t.Errorf("ad fields lack %q: %q", want, fields)
		}
	}
	mustAudit(t, ts, audit.Entry{User: "ivy", Action: audit.ActionViewAd, Object: "listings:102"})
	var versions string
	if err := chromedp.Run(ctx, chromedp.Text("#versions", &versions, chromedp.ByID)); err != nil || !strings.Contains(versions, "New to this") {
		t.Errorf("earlier versions: %q %v", versions, err)
	}

	// The page's own sanitiser, whatever the server sends: no script, no
	// handler, nothing loaded from elsewhere, no live link. And a capture
	// shown in its sandboxed frame under the page's policy.
	var clean string
	var framed bool
	err = chromedp.Run(ctx,
		chromedp.Evaluate(`sanitize('<p onclick="x()">Hi <a href="https://elsewhere.example/">there</a></p><img src="https://tracker.example/p.gif" onerror="alert(1)">'+
			'<script>alert(2)</script><iframe src="https://elsewhere.example/"></iframe><style>@import url(https://x.example/a.css); p{background:url(https://x.example/b.png)}</style>')`, &clean),
		chromedp.Evaluate(`add(document.querySelector('#capture'), captureView({}, {html: '<h2>Captured</h2><script>parent.document.title="owned"</script>',
			page_sha256: 'ab', verified: true, fetched_at: '2020-10-02T12:17:00Z', url: 'https://listings.example/oakland/102'})); true`, nil),
		chromedp.Poll(`(() => { const f = document.querySelectorAll('iframe.capture'); const d = f.length && f[f.length-1].contentDocument; return d === null || (d && d.body && d.body.textContent.includes('Captured')); })()`, &framed),
	)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"<script", "onerror", "onclick", "tracker.example", "href=", "<iframe", "@import", "url("} {
		if strings.Contains(clean, bad) {
			t.Errorf("sanitised capture keeps %q: %s", bad, clean)
		}
	}
	var title string
	if err := chromedp.Run(ctx, chromedp.Title(&title)); err != nil || title == "owned" {
		t.Errorf("a captured page's script ran: title %q %v", title, err)
	}
	var sandbox, srcdoc string
	err = chromedp.Run(ctx,
		chromedp.WaitVisible("#capture-frame", chromedp.ByID),
		chromedp.Evaluate(`document.querySelector('#capture-frame').getAttribute('sandbox')`, &sandbox),
		chromedp.Evaluate(`document.querySelector('#capture-frame').srcdoc`, &srcdoc),
	)
	if err != nil {
		t.Fatal(err)
	}
	if sandbox != "" || strings.Contains(strings.ToLower(srcdoc), "<script") {
		t.Errorf("capture frame: sandbox %q, script in srcdoc: %v", sandbox, strings.Contains(srcdoc, "<script"))
	}
	if !strings.Contains(capture, "SHA-256") || !strings.Contains(capture, "matches this hash") {
		t.Errorf("capture section: %q", capture)
	}
}

// TestJourneyPhotoSearch: an investigator finds a profile by a photo,
// re-encoded, and opens it.
func TestJourneyPhotoSearch(t *testing.T) {
	ts, fx := journeyServer(t)
	ctx := browser(t)
	var again bytes.Buffer
	_ = jpeg.Encode(&again, sim.Picture(7, 3), &jpeg.Options{Quality: 60})
	file := filepath.Join(fx.dir, "upload.jpg")
	if err := os.WriteFile(file, again.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	var count string
	var width int
	err := chromedp.Run(ctx, viewport(),
		ts.loginBrowser(auth.Investigator),
		chromedp.Navigate(ts.URL+"/search"),
		chromedp.WaitVisible("#img", chromedp.ByID),
		chromedp.SetUploadFiles("#img", []string{file}, chromedp.ByID),
		chromedp.Click("#findimg", chromedp.ByID),
		chromedp.WaitVisible(`#out a[data-profile]`, chromedp.ByQuery),
		chromedp.Text("#count", &count, chromedp.ByID),
		shot(t, "search-photo"),
		chromedp.Click(`#out a[data-profile]`, chromedp.ByQuery),
		chromedp.WaitVisible("#photos img", chromedp.ByQuery),
		chromedp.Poll(`document.querySelector('#photos img').complete && document.querySelector('#photos img').naturalWidth`, &width),
	)
	if err != nil {
		t.Fatal(err)
	}
	if count != "1 profile with this photo" || width != 96 {
		t.Errorf("photo search: %q, photo %d wide", count, width)
	}
	mustAudit(t, ts, audit.Entry{User: "ivy", Action: audit.ActionSearch, Outcome: audit.OutcomeOK})
	mustAudit(t, ts, audit.Entry{User: "ivy", Action: audit.ActionViewProfile, Object: fx.mia})
}

// TestJourneyTriageAlert: an investigator escalates an alert with a note;
// the note is in the alert's history under their name.
func TestJourneyTriageAlert(t *testing.T) {
	ts, fx := journeyServer(t)
	ctx := browser(t)
	key := "possible_minor." + fx.rosa
	li := `#alerts li[data-key="` + key + `"]`
	const note = "Referred to the CSEC team; person to be contacted with a victim advocate"
	var order string
	err := chromedp.Run(ctx, viewport(),
		ts.loginBrowser(auth.Investigator),
		chromedp.Navigate(ts.URL+"/alerts"),
		chromedp.WaitVisible(li, chromedp.ByQuery),
		chromedp.Evaluate(`[...document.querySelectorAll('#alerts li.alert')].map(l => l.dataset.key.split('.')[0]).join(',')`, &order),
		shot(t, "alerts"),
		chromedp.SendKeys(li+` input.note`, note, chromedp.ByQuery),
		chromedp.Click(li+` button[data-status="escalated"]`, chromedp.ByQuery),
		chromedp.Poll(`document.querySelector('`+li+` .status').textContent == 'escalated'`, nil),
		chromedp.Navigate(ts.URL+"/alerts/"+key),
		chromedp.WaitVisible("#alert-title", chromedp.ByID),
		chromedp.Click(`details.history summary`, chromedp.ByQuery),
		shot(t, "alert"),
	)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(order, "possible_minor,shared_phone") {
		t.Errorf("inbox order %q: want possible minors first, then the gravest", order)
	}
	list, err := alerts.List(context.Background(), ts.b.JS, ts.b.Alerts)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range list {
		if a.Key != key {
			continue
		}
		if a.Status != record.StatusEscalated || len(a.History) != 1 || a.History[0].By != "ivy" || a.History[0].Note != note {
			t.Errorf("alert after triage: %+v", a)
		}
	}
	mustAudit(t, ts, audit.Entry{User: "ivy", Action: audit.ActionAlertStatus, Object: key, Query: record.StatusEscalated})
}

// TestJourneyCase: an investigator opens a case with a slash in its
// number, adds a profile from its page and a note, and downloads the
// export.
func TestJourneyCase(t *testing.T) {
	ts, fx := journeyServer(t)
	ctx := browser(t)
	const number = "OPD/26-117"
	var profiles, notes string
	var zip fetched
	err := chromedp.Run(ctx, viewport(),
		ts.loginBrowser(auth.Investigator),
		chromedp.Navigate(ts.URL+"/cases"),
		chromedp.WaitVisible("#case-number", chromedp.ByID),
		chromedp.SendKeys("#case-number", number, chromedp.ByID),
		chromedp.SendKeys("#case-title", "Circuit through Oakland and San Jose", chromedp.ByID),
		chromedp.Click("#new-case button", chromedp.ByQuery),
		chromedp.WaitVisible("#case-title-h", chromedp.ByID),
		chromedp.Navigate(ts.URL+"/profiles/"+fx.rosa),
		chromedp.WaitVisible("#add-to-case", chromedp.ByID),
		chromedp.SetValue("#case-select", number, chromedp.ByID),
		chromedp.Click("#add-to-case", chromedp.ByID),
		chromedp.WaitVisible("#added", chromedp.ByID),
		chromedp.Navigate(ts.URL+"/search?q=510+873+0123&case="+strings.ReplaceAll(number, "/", "%2F")),
		chromedp.WaitVisible("#save-search", chromedp.ByID),
		chromedp.Click("#save-search", chromedp.ByID),
		chromedp.Poll(`document.querySelector('#save-search').disabled`, nil),
		chromedp.Navigate(ts.URL+"/cases/OPD%2F26-117"),
		chromedp.WaitVisible("#note-text", chromedp.ByID),
		chromedp.SendKeys("#note-text", "Same phone in Oakland and San Jose within three days; photos match.", chromedp.ByID),
		chromedp.Click("#note-form button", chromedp.ByQuery),
		chromedp.WaitVisible("#notes li", chromedp.ByQuery),
		chromedp.Text("#case-profiles", &profiles, chromedp.ByID),
		chromedp.Text("#case-notes", &notes, chromedp.ByID),
		fetchInPage(`document.querySelector('#export').href`, &zip),
		shot(t, "case"),
		chromedp.Navigate(ts.URL+"/cases"),
		chromedp.WaitVisible(`#cases a[data-case]`, chromedp.ByQuery),
		shot(t, "cases"),
	)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(profiles, fx.rosa) || !strings.Contains(notes, "photos match") || !strings.Contains(notes, "ivy") {
		t.Errorf("case page: profiles %q, notes %q", profiles, notes)
	}
	if zip.Status != http.StatusOK || zip.Type != "application/zip" || zip.Size < 100 {
		t.Errorf("export: %+v", zip)
	}
	for _, q := range []string{"create", "add_profile " + fx.rosa, "add_search ", "note "} {
		mustAudit(t, ts, audit.Entry{User: "ivy", Action: audit.ActionCaseChange, Object: number, Query: q, Outcome: audit.OutcomeOK})
	}
	mustAudit(t, ts, audit.Entry{User: "ivy", Action: audit.ActionExport, Object: number})
}

// TestJourneyTrends: an analyst draws two cities' trends, downloads the
// CSV of what is shown, and compares a day with the same weekday a year
// before.
func TestJourneyTrends(t *testing.T) {
	ts, _ := journeyServer(t)
	ctx := browser(t)
	var series int
	var csv fetched
	var yoy, nav string
	err := chromedp.Run(ctx, viewport(),
		ts.loginBrowser(auth.Analyst),
		chromedp.Navigate(ts.URL+"/trends"),
		chromedp.WaitVisible("#cities", chromedp.ByID),
		chromedp.Text("#nav", &nav, chromedp.ByID),
		chromedp.SetValue("#cities", "Oakland, San Jose", chromedp.ByID),
		chromedp.SetValue("#from", "2020-09-27", chromedp.ByID),
		chromedp.SetValue("#to", "2020-10-06", chromedp.ByID),
		chromedp.Click("#draw", chromedp.ByID),
		chromedp.Poll(`document.querySelector('#charts').dataset.drawn == '2'`, nil),
		chromedp.Evaluate(`document.querySelectorAll('#chart-ads path.series').length`, &series),
		fetchInPage(`document.querySelector('#csv').href`, &csv),
		chromedp.SetValue("#date", "2020-10-02", chromedp.ByID),
		chromedp.SetValue("#vs", "2019-10-04", chromedp.ByID),
		chromedp.Click("#snap button", chromedp.ByQuery),
		chromedp.Poll(`document.querySelector('#da') && document.querySelector('#da thead').textContent.includes('2019-10-04')`, nil),
		chromedp.Text("#da", &yoy, chromedp.ByID),
		shot(t, "trends"),
	)
	if err != nil {
		t.Fatal(err)
	}
	if series != 2 {
		t.Errorf("%d lines in the ads chart, want 2", series)
	}
	if csv.Status != http.StatusOK || !strings.HasPrefix(csv.Text, "date,city,ads,profiles,phones\n") ||
		!strings.Contains(csv.Text, "2020-10-02,Oakland,1,1,") || !strings.Contains(csv.Text, "2020-10-03,San Jose,2,2,") {
		t.Errorf("csv: %+v", csv)
	}
	if !strings.Contains(yoy, "Oakland\tads\t1\t1\t0.0%") || !strings.Contains(yoy, "San Jose\tads\t1\t0\t–") {
		t.Errorf("year over year: %q", yoy)
	}
	if strings.Contains(nav, "Search") || !strings.Contains(nav, "Trends") {
		t.Errorf("an analyst's top bar: %q", nav)
	}
	// Trends are not audited (the route has no action): the analyst's
	// login is the step the log holds.
	mustAudit(t, ts, audit.Entry{User: "ana", Action: audit.ActionLogin})
}

// TestJourneyAnalystLimits: an analyst starts on the trends, sees alert
// counts but no one they name, and is refused a profile page and its API
// (audited).
func TestJourneyAnalystLimits(t *testing.T) {
	ts, fx := journeyServer(t)
	ctx := browser(t)
	var counts, refused string
	var api fetched
	err := chromedp.Run(ctx, viewport(),
		ts.loginBrowser(auth.Analyst),
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible("#chart-ads", chromedp.ByID),
		shot(t, "start-analyst"),
		chromedp.Navigate(ts.URL+"/alerts"),
		chromedp.WaitVisible("#counts", chromedp.ByID),
		chromedp.Text("#counts", &counts, chromedp.ByID),
		shot(t, "alerts-analyst"),
		chromedp.Navigate(ts.URL+"/profiles/"+fx.rosa),
		chromedp.WaitVisible("main h2", chromedp.ByQuery),
		chromedp.Text("main", &refused, chromedp.ByQuery),
		fetchInPage(`'/api/profiles/`+fx.rosa+`'`, &api),
	)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(counts, "possible minor") || strings.Contains(counts, fx.rosa) {
		t.Errorf("analyst's alert counts: %q", counts)
	}
	if !strings.Contains(refused, "Not for your role") || api.Status != http.StatusForbidden {
		t.Errorf("analyst on a profile: page %q, API %d", refused, api.Status)
	}
	mustAudit(t, ts, audit.Entry{User: "ana", Action: audit.ActionViewProfile, Object: fx.rosa, Outcome: audit.OutcomeDenied})
}

// TestJourneyWatchlist: an investigator watches a phone number written
// loosely and stops watching it.
func TestJourneyWatchlist(t *testing.T) {
	ts, _ := journeyServer(t)
	ctx := browser(t)
	var listed string
	err := chromedp.Run(ctx, viewport(),
		ts.loginBrowser(auth.Investigator),
		chromedp.Navigate(ts.URL+"/watchlist"),
		chromedp.WaitVisible("#watch-value", chromedp.ByID),
		chromedp.SendKeys("#watch-value", "(408) 555-0123", chromedp.ByID),
		chromedp.SendKeys("#watch-note", "second phone of the San Jose profile", chromedp.ByID),
		chromedp.Click("#watch-form button", chromedp.ByQuery),
		chromedp.WaitVisible(`#watch-table button[data-value="+14085550123"]`, chromedp.ByQuery),
		chromedp.SetValue("#watch-kind", "term", chromedp.ByID),
		chromedp.SendKeys("#watch-value", "new 2 the game", chromedp.ByID),
		chromedp.Click("#watch-form button", chromedp.ByQuery),
		chromedp.WaitVisible(`#watch-table button[data-value="new 2 the game"]`, chromedp.ByQuery),
		chromedp.Text("#watch-table", &listed, chromedp.ByID),
		shot(t, "watchlist"),
		chromedp.Click(`#watch-table button[data-value="+14085550123"]`, chromedp.ByQuery),
		chromedp.WaitNotPresent(`#watch-table button[data-value="+14085550123"]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(listed, "second phone") || !strings.Contains(listed, "ivy") {
		t.Errorf("watchlist: %q", listed)
	}
	mustAudit(t, ts, audit.Entry{User: "ivy", Action: audit.ActionWatchlistAdd, Object: "phone", Query: "+14085550123"})
	mustAudit(t, ts, audit.Entry{User: "ivy", Action: audit.ActionWatchlistRemove, Object: "phone", Query: "+14085550123"})
}

// TestJourneyAudit: a supervisor reads the unit's audit log, filtered by
// user, and downloads it as CSV.
func TestJourneyAudit(t *testing.T) {
	ts, fx := journeyServer(t)
	// Some of the unit's work to read.
	for _, p := range []string{"/api/search?q=5108730123", "/api/profiles/" + fx.rosa, "/api/ads/listings:101"} {
		resp, err := ts.c.Get(ts.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	ctx := browser(t)
	var rows int
	var csv fetched
	var start, pipeline string
	err := chromedp.Run(ctx, viewport(),
		ts.loginBrowser(auth.Supervisor),
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible("#q", chromedp.ByID),
		chromedp.Text("#nav", &start, chromedp.ByID),
		chromedp.Navigate(ts.URL+"/audit?since=2000-01-01&user=ivy"),
		chromedp.WaitVisible("#audit tbody tr", chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelectorAll('#audit tbody tr').length`, &rows),
		fetchInPage(`document.querySelector('#audit-csv').href`, &csv),
		chromedp.Navigate(ts.URL+"/audit?since=2000-01-01"),
		chromedp.WaitVisible("#audit tbody tr", chromedp.ByQuery),
		chromedp.Text("#pipeline", &pipeline, chromedp.ByID),
		shot(t, "audit"),
	)
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, e := range ts.entries(t) {
		if e.User == "ivy" {
			want++
		}
	}
	if rows != want || rows < 4 {
		t.Errorf("audit page shows %d of ivy's entries, want %d", rows, want)
	}
	if csv.Status != http.StatusOK || !strings.HasPrefix(csv.Text, "seq,at,user,role") || strings.Count(csv.Text, "\n") != want+1 {
		t.Errorf("audit csv: %d %q", csv.Status, csv.Text)
	}
	if !strings.Contains(start, "Audit") || !strings.Contains(start, "Search") {
		t.Errorf("a supervisor's top bar: %q", start)
	}
	if !strings.Contains(pipeline, "None: every stage is keeping up") {
		t.Errorf("a supervisor's pipeline section: %q", pipeline)
	}
	mustAudit(t, ts, audit.Entry{User: "sam", Action: audit.ActionLogin})
}
