package web

import (
	"bytes"
	"context"
	"encoding/json"
	"image/jpeg"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/adwatch/adwatch/alerts"
	"github.com/adwatch/adwatch/auth"
	"github.com/adwatch/adwatch/extractor/imagehash"
	"github.com/adwatch/adwatch/indexer"
	"github.com/adwatch/adwatch/internal/bus/bustest"
	"github.com/adwatch/adwatch/internal/record"
	"github.com/adwatch/adwatch/internal/sim"
)

// openIndex opens an empty index for one test.
func openIndex(t *testing.T) *indexer.Index {
	t.Helper()
	idx, err := indexer.Open(t.TempDir(), 8, 25, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idx.Close() })
	return idx
}

func testServer(t *testing.T) *site {
	t.Helper()
	idx, err := indexer.Open(t.TempDir(), 8, 25, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idx.Close() })
	at := time.Date(2020, 10, 2, 12, 0, 0, 0, time.UTC)
	ads := []record.Ad{
		{ID: "s:1", City: "Oakland", Title: "Sweet company", Body: "friendly and discreet", Poster: "Rosa", PostedAt: at, PageSHA256: "1",
			Handles: []string{"instagram:rosa.b"},
			Phones:  []record.Phone{{E164: "+15108730123"}}},
		{ID: "s:2", City: "Oakland", Title: "Relaxing time", Body: "new in town", Poster: "Rosa", PostedAt: at.Add(time.Hour), PageSHA256: "2",
			Phones: []record.Phone{{E164: "+15108730123", Obfuscated: true}}},
		{ID: "s:3", City: "San Jose", Title: "Kind smile", Body: "good conversation", Poster: "Mia", PostedAt: at, PageSHA256: "3",
			Phones: []record.Phone{{E164: "+14085550123"}}},
	}
	if _, err := idx.Put(ads); err != nil {
		t.Fatal(err)
	}
	return serve(t, idx, nil)
}

func TestSearchAPI(t *testing.T) {
	ts := testServer(t)
	for _, tc := range []struct {
		q        string
		ads      int
		profiles int
	}{
		{"(510) 873-0123", 2, 1},
		{"5108730123", 2, 1},
		{"five one zero 873 0123", 2, 1},
		{"+1 408 555 0123", 1, 1},
		{"Rosa", 2, 1},
		{"IG: Rosa.B", 1, 1},
		{"instagram.com/rosa.b", 1, 1},
		{"conversation", 1, 1},
		{"nothing matches this", 0, 0},
	} {
		resp, err := ts.c.Get(ts.URL + "/api/search?q=" + url.QueryEscape(tc.q))
		if err != nil {
			t.Fatal(err)
		}
		var res SearchResult
		err = json.NewDecoder(resp.Body).Decode(&res)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Ads) != tc.ads || len(res.Profiles) != tc.profiles {
			t.Errorf("search %q: %d ads in %d profiles, want %d in %d", tc.q, len(res.Ads), len(res.Profiles), tc.ads, tc.profiles)
		}
	}
}

// TestAlertStatusInChromium acknowledges an alert from the page: the
// change is recorded under the logged-in investigator's name.
func TestAlertStatusInChromium(t *testing.T) {
	ctx := browser(t)
	b := bustest.New(t)
	data, _ := json.Marshal(record.Alert{Key: "possible_minor.p1", Rule: "possible_minor", Severity: "critical",
		Entity: "profile:P1", Summary: "stated age 17", Status: record.StatusNew})
	if _, err := b.Alerts.Put(context.Background(), "possible_minor.p1", data); err != nil {
		t.Fatal(err)
	}
	idx := openIndex(t)
	ts := serve(t, idx, b)
	var accepted string
	err := chromedp.Run(ctx,
		ts.loginBrowser(auth.Investigator),
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible(`#alerts li button[data-status="acknowledged"]`, chromedp.ByQuery),
		chromedp.Click(`#alerts li button[data-status="acknowledged"]`, chromedp.ByQuery),
		chromedp.Poll(`document.querySelector('#alerts .status').textContent == 'acknowledged'`, nil),
		chromedp.Text(`#alerts .status`, &accepted, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatal(err)
	}
	list, err := alerts.List(context.Background(), b.JS, b.Alerts)
	if err != nil || len(list) != 1 || list[0].Status != record.StatusAcknowledged || len(list[0].History) != 1 || list[0].History[0].By != "ivy" {
		t.Errorf("alert after the click: %+v %v (page said %q)", list, err, accepted)
	}
}

func TestSearchByImage(t *testing.T) {
	idx := openIndex(t)
	var photo bytes.Buffer
	if err := jpeg.Encode(&photo, sim.Picture(1, 5), &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	fp, err := imagehash.Hash(photo.Bytes(), 1<<24)
	if err != nil {
		t.Fatal(err)
	}
	img := record.Image{SHA256: fp.SHA256, PHash: imagehash.Hex(fp.PHash)}
	for _, c := range fp.Crops {
		img.PHashCrops = append(img.PHashCrops, imagehash.Hex(c))
	}
	if _, err := idx.Put([]record.Ad{{ID: "s:1", PageSHA256: "1", Images: []record.Image{img}}}); err != nil {
		t.Fatal(err)
	}
	ts := serve(t, idx, nil)

	// The same photo re-encoded finds the profile; another photo does not;
	// a broken upload is a clear 400.
	var again, other bytes.Buffer
	_ = jpeg.Encode(&again, sim.Picture(1, 5), &jpeg.Options{Quality: 65})
	_ = jpeg.Encode(&other, sim.Picture(1, 6), &jpeg.Options{Quality: 90})
	for _, tc := range []struct {
		name     string
		body     []byte
		status   int
		profiles int
	}{{"re-encoded", again.Bytes(), 200, 1}, {"other photo", other.Bytes(), 200, 0}, {"not an image", []byte("hello"), 400, 0}} {
		resp, err := ts.c.Post(ts.URL+"/api/search/image", "image/jpeg", bytes.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		var res ImageResult
		_ = json.NewDecoder(resp.Body).Decode(&res)
		resp.Body.Close()
		if resp.StatusCode != tc.status || len(res.Profiles) != tc.profiles {
			t.Errorf("%s: status %d, %d profiles; want %d, %d", tc.name, resp.StatusCode, len(res.Profiles), tc.status, tc.profiles)
		}
	}
}

func TestAPIErrors(t *testing.T) {
	ts := testServer(t)
	for path, want := range map[string]int{
		"/api/search":                                http.StatusBadRequest,
		"/api/ads/nope":                              http.StatusNotFound,
		"/api/profiles/nope":                         http.StatusNotFound,
		"/api/snapshot?city=Oakland&date=10/02":      http.StatusBadRequest,
		"/api/snapshot?date=2020-10-02":              http.StatusBadRequest,
		"/api/snapshot?city=Oakland&date=2020-10-02": http.StatusOK,
	} {
		resp, err := ts.c.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
}

// TestSearchPageInChromium types a phone number into the search page in a
// real headless Chromium and reads the result.
func TestSearchPageInChromium(t *testing.T) {
	ts := testServer(t)
	ctx := browser(t)
	var count, list string
	err := chromedp.Run(ctx,
		ts.loginBrowser(auth.Investigator),
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible("#q", chromedp.ByID),
		chromedp.SendKeys("#q", "510.873.0123", chromedp.ByID),
		chromedp.Click("#f button", chromedp.ByQuery),
		chromedp.WaitVisible("#count", chromedp.ByID),
		chromedp.Text("#count", &count, chromedp.ByID),
		chromedp.Text("#out", &list, chromedp.ByID),
	)
	if err != nil {
		t.Fatal(err)
	}
	var profile, table string
	err = chromedp.Run(ctx,
		chromedp.Click("#out a[data-profile]", chromedp.ByQuery),
		chromedp.WaitVisible("#profile-title", chromedp.ByID),
		chromedp.Text("#profile", &profile, chromedp.ByID),
		// The year-over-year table is on the trends page.
		chromedp.Navigate(ts.URL+"/trends"),
		chromedp.WaitVisible("#snap", chromedp.ByID),
		chromedp.SetValue("#cities", "Oakland", chromedp.ByID),
		chromedp.SetValue("#date", "2020-10-02", chromedp.ByID),
		chromedp.SetValue("#vs", "2020-10-01", chromedp.ByID),
		chromedp.Click("#snap button", chromedp.ByQuery),
		chromedp.Poll(`document.querySelector('#da') && document.querySelector('#da thead').textContent.includes('2020-10-01')`, nil),
		chromedp.Text("#da", &table, chromedp.ByID),
	)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(profile, "2 ads") || !strings.Contains(profile, "+15108730123") {
		t.Errorf("profile view: %q", profile)
	}
	if !strings.Contains(table, "ads\t2\t0") || !strings.Contains(table, "profiles\t1\t0") {
		t.Errorf("snapshot table: %q", table)
	}
	if count != "2 ads in 1 profile" {
		t.Errorf("page says %q, want 2 ads in 1 profile", count)
	}
	if !strings.Contains(list, "Sweet company") || !strings.Contains(list, "Relaxing time") || strings.Contains(list, "Kind smile") {
		t.Errorf("results: %q", list)
	}
}

// browser starts Debian's headless Chromium for a test.
func browser(t *testing.T) context.Context {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test")
	}
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is not installed; .ci/run installs it with apt-get")
		}
		t.Skip("chromium not installed (apt-get install chromium)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true))
	// Not t.TempDir: Chromium's helper processes may still write to the
	// profile for a moment after the browser exits, which fails the
	// test's own cleanup. This one is removed after the browser, retried.
	profile, err := os.MkdirTemp("", "adwatch-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts = append(opts, chromedp.UserDataDir(profile))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
		for range 50 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	return ctx
}

// TestWatchPhotoUpload puts a photo on the watchlist by uploading it: the
// entry keeps its perceptual hashes, and a broken upload is a clear 400.
func TestWatchPhotoUpload(t *testing.T) {
	b := bustest.New(t)
	idx := openIndex(t)
	ts := serve(t, idx, b)
	var photo bytes.Buffer
	_ = jpeg.Encode(&photo, sim.Picture(1, 5), &jpeg.Options{Quality: 90})
	upload := func(data []byte) *http.Response {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		fw, _ := mw.CreateFormFile("image", "photo.jpg")
		_, _ = fw.Write(data)
		_ = mw.WriteField("note", "seen in two cities")
		_ = mw.Close()
		resp, err := ts.c.Post(ts.URL+"/api/watchlist", mw.FormDataContentType(), &body)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := upload(photo.Bytes())
	var e alerts.WatchEntry
	_ = json.NewDecoder(resp.Body).Decode(&e)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || e.Kind != alerts.WatchImage || len(e.PHash) != 16 || len(e.Crops) != 9 || e.By != "ivy" {
		t.Fatalf("status %d, entry %+v", resp.StatusCode, e)
	}
	for name, r := range map[string]*http.Response{"not an image": upload([]byte("hello"))} {
		r.Body.Close()
		if r.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", name, r.StatusCode)
		}
	}
	list, err := alerts.Watchlist(context.Background(), b.Watchlist)
	if err != nil || len(list) != 1 {
		t.Errorf("watchlist %+v %v", list, err)
	}
}

// TestWatchPhotoInChromium: an investigator picks a photo and it is on the
// watchlist under their name.
func TestWatchPhotoInChromium(t *testing.T) {
	ctx := browser(t)
	b := bustest.New(t)
	idx := openIndex(t)
	ts := serve(t, idx, b)
	photo := filepath.Join(t.TempDir(), "photo.jpg")
	var buf bytes.Buffer
	_ = jpeg.Encode(&buf, sim.Picture(2, 9), &jpeg.Options{Quality: 85})
	if err := os.WriteFile(photo, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	var accepted string
	err := chromedp.Run(ctx,
		ts.loginBrowser(auth.Investigator),
		chromedp.Navigate(ts.URL+"/search"),
		chromedp.SetUploadFiles("#img", []string{photo}, chromedp.ByID),
		chromedp.Click("#watchimg", chromedp.ByID),
		chromedp.WaitVisible("#watched", chromedp.ByID),
		chromedp.Poll(`document.querySelector('#watched').textContent.startsWith('watching')`, nil),
		chromedp.Text("#watched", &accepted, chromedp.ByID),
	)
	if err != nil {
		t.Fatal(err)
	}
	list, err := alerts.Watchlist(context.Background(), b.Watchlist)
	if err != nil || len(list) != 1 || list[0].By != "ivy" || list[0].Kind != alerts.WatchImage || len(list[0].Crops) != 9 {
		t.Errorf("watchlist after the click: %+v %v (page said %q)", list, err, accepted)
	}
}

// TestImagesServed: a stored photo is served as an image; a stored page
// posing as a photo is refused; a bad or unknown hash is a clear error.
func TestImagesServed(t *testing.T) {
	b := bustest.New(t)
	ctx := context.Background()
	var photo bytes.Buffer
	_ = jpeg.Encode(&photo, sim.Picture(1, 3), &jpeg.Options{Quality: 80})
	photoSHA := record.SHA256Hex(photo.Bytes())
	page := []byte("<html><script>alert(1)</script></html>")
	pageSHA := record.SHA256Hex(page)
	for sha, data := range map[string][]byte{photoSHA: photo.Bytes(), pageSHA: page} {
		if _, err := b.Images.PutBytes(ctx, sha, data); err != nil {
			t.Fatal(err)
		}
	}
	idx := openIndex(t)
	ts := serve(t, idx, b)
	for _, tc := range []struct {
		name, sha string
		status    int
		ctype     string
	}{
		{"photo", photoSHA, 200, "image/jpeg"},
		{"page posing as a photo", pageSHA, 415, "application/json"},
		{"unknown", strings.Repeat("ab", 32), 404, "application/json"},
		{"not a hash", "../../etc/passwd", 404, ""},
		{"short hash", "abc123", 400, "application/json"},
	} {
		resp, err := ts.c.Get(ts.URL + "/api/images/" + tc.sha)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || (tc.ctype != "" && !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.ctype)) {
			t.Errorf("%s: %d %s, want %d %s", tc.name, resp.StatusCode, resp.Header.Get("Content-Type"), tc.status, tc.ctype)
		}
		if tc.status == 200 && !bytes.Equal(body, photo.Bytes()) {
			t.Errorf("%s: served bytes differ", tc.name)
		}
	}
}

// TestProfilePhotosInChromium: the profile view shows the person's photo,
// loaded from the image store.
func TestProfilePhotosInChromium(t *testing.T) {
	ctx := browser(t)
	b := bustest.New(t)
	var photo bytes.Buffer
	_ = jpeg.Encode(&photo, sim.Picture(1, 4), &jpeg.Options{Quality: 80})
	sha := record.SHA256Hex(photo.Bytes())
	if _, err := b.Images.PutBytes(context.Background(), sha, photo.Bytes()); err != nil {
		t.Fatal(err)
	}
	idx := openIndex(t)
	at := time.Date(2020, 10, 2, 12, 0, 0, 0, time.UTC)
	if _, err := idx.Put([]record.Ad{{ID: "s:1", City: "Oakland", Title: "Sweet company", Poster: "Rosa", PostedAt: at, PageSHA256: "1",
		Phones: []record.Phone{{E164: "+15108730123"}}, Images: []record.Image{{SHA256: sha}}}}); err != nil {
		t.Fatal(err)
	}
	ts := serve(t, idx, b)
	var width int
	err := chromedp.Run(ctx,
		ts.loginBrowser(auth.Investigator),
		chromedp.Navigate(ts.URL+"/"),
		chromedp.SendKeys("#q", "5108730123", chromedp.ByID),
		chromedp.Click("#f button", chromedp.ByQuery),
		chromedp.WaitVisible("#out a[data-profile]", chromedp.ByQuery),
		chromedp.Click("#out a[data-profile]", chromedp.ByQuery),
		chromedp.WaitVisible("#photos img", chromedp.ByQuery),
		chromedp.Poll(`document.querySelector('#photos img').complete && document.querySelector('#photos img').naturalWidth`, &width),
	)
	if err != nil {
		t.Fatal(err)
	}
	if width != sim.Picture(1, 4).Bounds().Dx() {
		t.Errorf("photo loaded %d pixels wide, want %d", width, sim.Picture(1, 4).Bounds().Dx())
	}
}
