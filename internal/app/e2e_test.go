package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"

	"fmt"
	"io"
	"log/slog"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/adwatch/adwatch/alerts"
	"github.com/adwatch/adwatch/audit"
	"github.com/adwatch/adwatch/auth"
	"github.com/adwatch/adwatch/report"

	"github.com/adwatch/adwatch/indexer"
	"github.com/adwatch/adwatch/internal/app"
	"github.com/adwatch/adwatch/internal/bus/bustest"
	"github.com/adwatch/adwatch/internal/config"
	"github.com/adwatch/adwatch/internal/record"
	"github.com/adwatch/adwatch/internal/sim"
	"github.com/adwatch/adwatch/web"
)

// testConfig points the repository's configuration at a simulator on base.
func testConfig(t *testing.T, base string) config.Config {
	t.Helper()
	cfg, err := config.Load("../../configs/adwatch.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The three sites the simulator serves: simclassifieds, oldschool and
	// clasificados (Guayaquil, in Spanish, numbers in Ecuador's format).
	var names []string
	for i := range cfg.Sites {
		if err := cfg.Sites[i].SetBaseURL(base); err != nil {
			t.Fatal(err)
		}
		names = append(names, cfg.Sites[i].Name)
	}
	if got := strings.Join(names, " "); got != "clasificados oldschool simclassifieds" {
		t.Fatalf("sites %q, want clasificados oldschool simclassifieds", got)
	}
	return cfg
}

// logOut receives the stages' logs; set E2E_LOG=1 to see them.
var logOut io.Writer = io.Discard

func init() {
	if os.Getenv("E2E_LOG") != "" {
		logOut = os.Stderr
	}
}

func runOnce(t *testing.T, cfg config.Config, dir string) time.Duration {
	t.Helper()
	a := app.New(cfg, dir, slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelDebug})))
	a.SyncAlways = false
	// A bound for a hung run, not a speed test: under -race on a loaded
	// two-core machine one run has taken over ten minutes.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	start := time.Now()
	if err := a.Run(ctx, true); err != nil {
		t.Fatalf("run --once: %v", err)
	}
	return time.Since(start)
}

func TestEndToEndAlamedaScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end crawl of the simulator")
	}
	world, err := sim.Generate(1, "alameda")
	if err != nil {
		t.Fatal(err)
	}
	simSrv := sim.NewServer(world)
	ts := httptest.NewServer(simSrv)
	defer ts.Close()
	cfg := testConfig(t, ts.URL)
	dir := t.TempDir()

	took := runOnce(t, cfg, dir)
	t.Logf("first run: %d ads in %s (%.0f ads/s)", len(world.Ads), took, float64(len(world.Ads))/took.Seconds())

	idx, err := indexer.Open(dir, cfg.Linking.PHashThreshold, cfg.Linking.MaxProfilesPerLink, true)
	if err != nil {
		t.Fatal(err)
	}
	checkIndex := func(idx *indexer.Index) {
		t.Helper()
		n, err := idx.Count()
		if err != nil {
			t.Fatal(err)
		}
		if int(n) != len(world.Ads) {
			t.Errorf("indexed %d ads, the simulator has %d", n, len(world.Ads))
		}
		seen := map[string]int{}
		if err := idx.Ads(indexer.Filter{}, func(a record.Ad) error { seen[a.ID]++; return nil }); err != nil {
			t.Fatal(err)
		}
		for _, a := range world.Ads {
			if id := sim.AdKey(a); seen[id] != 1 {
				t.Errorf("ad %s indexed %d times, want once", id, seen[id])
			}
		}
		for _, tc := range []struct {
			date          string
			ads, profiles int
		}{{"2019-10-04", 999, 666}, {"2020-10-02", 1165, 750}} {
			from, to, err := report.Window(&cfg, "Oakland", tc.date)
			if err != nil {
				t.Fatal(err)
			}
			s, err := idx.CountPosted("Oakland", from, to)
			if err != nil {
				t.Fatal(err)
			}
			if s.Ads != tc.ads || s.Profiles != tc.profiles {
				t.Errorf("Oakland %s: got %d ads / %d profiles, want %d / %d", tc.date, s.Ads, s.Profiles, tc.ads, tc.profiles)
			}
			if s.Phones == 0 || s.Phones > s.Profiles {
				t.Errorf("Oakland %s: %d phones for %d profiles", tc.date, s.Phones, s.Profiles)
			}
		}
	}
	checkIndex(idx)
	checkSpanish(t, world, idx)
	profileOf := checkLinking(t, world, idx)
	checkAPI(t, &cfg, world, idx)
	idx.Close()
	first := checkAlerts(t, cfg, dir, world, profileOf)

	if simSrv.TrapHits.Load() != 0 || simSrv.DisallowedHits.Load() != 0 {
		t.Errorf("crawler visited the calendar trap %d times and a robots-disallowed page %d times", simSrv.TrapHits.Load(), simSrv.DisallowedHits.Load())
	}
	if simSrv.LimitedAnswers.Load() == 0 || simSrv.RobotsHits.Load() == 0 {
		t.Errorf("simulator answered 429 %d times and robots.txt %d times; both should be exercised", simSrv.LimitedAnswers.Load(), simSrv.RobotsHits.Load())
	}

	// A second run over the same data adds nothing and loses nothing.
	runOnce(t, cfg, dir)
	second := listAlerts(t, cfg, dir)
	if len(second) != len(first) {
		t.Errorf("second run: %d alerts, first %d", len(second), len(first))
	}
	updated := map[string]time.Time{}
	for _, a := range first {
		updated[a.Key] = a.Updated
	}
	for _, a := range second {
		if !a.Updated.Equal(updated[a.Key]) {
			t.Errorf("second run changed alert %s", a.Key)
		}
	}
	idx, err = indexer.Open(dir, cfg.Linking.PHashThreshold, cfg.Linking.MaxProfilesPerLink, true)
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	checkIndex(idx)
	if _, err := os.Stat(filepath.Join(dir, "nats")); err != nil {
		t.Errorf("no JetStream store under the data dir: %v", err)
	}
}

// checkSpanish: the ads in Spanish (Fresno, and Guayaquil on the third
// site) are indexed as Spanish and found by Spanish words in another form
// than the ad's; Guayaquil's numbers, written without +593, are read as
// Ecuador's.
func checkSpanish(t *testing.T, world *sim.World, idx *indexer.Index) {
	t.Helper()
	spanish, ec := 0, map[string]int{}
	for _, a := range world.Ads {
		if a.Spanish {
			spanish++
		}
		if sim.Country(a.City) == "EC" {
			ec[a.Phones[0]]++
		}
	}
	got, err := idx.Find(indexer.Search{Lang: indexer.LangSpanish})
	if err != nil {
		t.Fatal(err)
	}
	if int(got.Total) != spanish || spanish == 0 {
		t.Errorf("%d ads indexed as Spanish, the simulator wrote %d", got.Total, spanish)
	}
	// "tranquila" is in no ad; "tranquilo" is, in ads in Spanish only.
	if got, err := idx.Find(indexer.Search{Text: "tranquila"}); err != nil || got.Total == 0 {
		t.Errorf("Spanish search for tranquila: %d ads, %v", got.Total, err)
	}
	for phone, want := range ec {
		hits, err := idx.SearchPhones([]string{phone}, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(hits) != want {
			t.Errorf("Ecuadorian number %s: %d ads found, the simulator has %d", phone, len(hits), want)
		}
	}
}

// checkLinking scores the profiles and networks against the simulator's
// persons and networks, as adwatch eval linking does, against the targets.
func checkLinking(t *testing.T, world *sim.World, idx *indexer.Index) map[string]string {
	t.Helper()
	predP, predN, trueP, trueN := map[string]string{}, map[string]string{}, map[string]string{}, map[string]string{}
	for _, a := range world.Ads {
		id := sim.AdKey(a)
		p := idx.Linker.Profile(id)
		predP[id], predN[id] = p, idx.Linker.Network(p)
		person := world.Persons[a.Person]
		trueP[id], trueN[id] = fmt.Sprint(a.Person), world.NetworkID(person)
	}
	prof, net := indexer.Evaluate(predP, trueP), indexer.Evaluate(predN, trueN)
	persons := map[string]map[string]bool{}
	for id, p := range predP {
		if persons[p] == nil {
			persons[p] = map[string]bool{}
		}
		persons[p][trueP[id]] = true
	}
	for p, ps := range persons {
		if len(ps) > 1 {
			t.Logf("profile %s holds persons %v; evidence %+v", p, ps, idx.Linker.Links(p))
		}
	}
	t.Logf("profiles: %+v", prof)
	t.Logf("networks: %+v", net)
	if prof.PairF1 < 0.97 {
		t.Errorf("profile pairwise F1 %.4f, want at least 0.97", prof.PairF1)
	}
	if d := float64(prof.Clusters-prof.Truth) / float64(prof.Truth); d > 0.01 || d < -0.01 {
		t.Errorf("%d profiles for %d persons: more than 1%% off", prof.Clusters, prof.Truth)
	}
	if net.PairRecall < 0.95 {
		t.Errorf("network pairwise recall %.4f, want at least 0.95", net.PairRecall)
	}
	return predP
}

func getJSON(t *testing.T, c *http.Client, url string, v any) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// checkAPI searches by phone in another format and reads a profile.
func checkAPI(t *testing.T, cfg *config.Config, world *sim.World, idx *indexer.Index) {
	t.Helper()
	b := bustest.New(t)
	users, err := auth.Open(t.Context(), b.JS, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := users.Add(t.Context(), "ivy", auth.Investigator, "correct horse battery staple"); err != nil {
		t.Fatal(err)
	}
	trail, err := audit.Open(t.Context(), b.JS, audit.MinRetention, 1)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer((&web.Server{Index: idx, Config: cfg, Users: users, Audit: trail, Alerts: b.Alerts, Watchlist: b.Watchlist,
		Images: b.Images, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}).Handler())
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.Post(srv.URL+"/api/login", "application/json", strings.NewReader(`{"username":"ivy","password":"correct horse battery staple"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	a := world.Ads[len(world.Ads)/2]
	d := strings.TrimPrefix(a.Phones[0], "+1")
	var res web.SearchResult
	getJSON(t, c, srv.URL+"/api/search?q="+url.QueryEscape(fmt.Sprintf("(%s) %s-%s", d[:3], d[3:6], d[6:])), &res)
	want := 0
	for _, b := range world.Ads {
		if b.Phones[0] == a.Phones[0] {
			want++
		}
	}
	if len(res.Ads) != want {
		t.Errorf("search by phone found %d ads, the simulator has %d with it", len(res.Ads), want)
	}
	var snap report.Snapshot
	getJSON(t, c, srv.URL+"/api/snapshot?city=Oakland&date=2020-10-02", &snap)
	if snap.Ads != 1165 || snap.Profiles != 750 {
		t.Errorf("/api/snapshot: %+v", snap)
	}
	var prof indexer.ProfileView
	getJSON(t, c, srv.URL+"/api/profiles/"+idx.Linker.Profile(sim.AdKey(a)), &prof)
	mine := 0
	for _, b := range world.Ads {
		if b.Person == a.Person {
			mine++
		}
	}
	if len(prof.Ads) != mine {
		t.Errorf("profile of person %d has %d ads, want %d", a.Person, len(prof.Ads), mine)
	}
	for i := 1; i < len(prof.Ads); i++ {
		if prof.Ads[i].PostedAt.Before(prof.Ads[i-1].PostedAt) {
			t.Error("profile ads not in time order")
		}
	}
	var text web.SearchResult
	getJSON(t, c, srv.URL+"/api/search?q="+url.QueryEscape(a.Poster), &text)
	if len(text.Ads) == 0 {
		t.Errorf("search by name %q found nothing", a.Poster)
	}
}

// surge returns, for ads in time order, the ads in the day before the
// latest and the daily average before that.
func surge(ads []sim.Ad) (int, float64) {
	last := ads[len(ads)-1].PostedAt
	from := last.Add(-24 * time.Hour)
	n, before := 0, 0
	for _, a := range ads {
		if a.PostedAt.After(from) {
			n++
		} else {
			before++
		}
	}
	if before == 0 {
		return n, 0
	}
	return n, float64(before) / max(from.Sub(ads[0].PostedAt).Hours()/24, 1)
}

// listAlerts reads the alerts bucket of the data dir.
func listAlerts(t *testing.T, cfg config.Config, dir string) []record.Alert {
	t.Helper()
	a := app.New(cfg, dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	a.SyncAlways = false
	ctx := context.Background()
	if err := a.Connect(ctx, true); err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	list, err := alerts.List(ctx, a.Bus.JS, a.Bus.Alerts)
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// checkAlerts scores each rule's alerts against what the simulator
// planted: possible minors (youth language with a stated age of 18 or 19,
// or ages that fall), phones in the ads of three persons within 30 days,
// persons in three cities within 30 days, third-party language, and the
// surges by their definitions on the true ads: a person or a phone with at
// least 6 (10) ads in the day before its latest ad and four times its own
// daily baseline, a city day with at least 20 ads and one and a half times
// its baseline (same weekday of the four weeks before, else the week
// before).
func checkAlerts(t *testing.T, cfg config.Config, dir string, world *sim.World, profileOf map[string]string) []record.Alert {
	t.Helper()
	list := listAlerts(t, cfg, dir)
	personOfProfile := map[string]int{}
	for _, a := range world.Ads {
		personOfProfile[profileOf[sim.AdKey(a)]] = a.Person
	}
	want := map[string]map[string]bool{"possible_minor": {}, "shared_phone": {}, "shared_phone_all_time": {}, "circuit": {}, "third_party_language": {},
		"profile_surge": {}, "phone_surge": {}, "city_surge": {}}
	byPerson := map[int][]sim.Ad{}
	byPhone := map[string][]sim.Ad{}
	for _, a := range world.Ads {
		byPerson[a.Person] = append(byPerson[a.Person], a)
		for _, p := range a.Phones {
			byPhone[p] = append(byPhone[p], a)
		}
		if strings.Contains(a.Body, "Ask about my friends") || strings.Contains(a.Body, "My girls") {
			want["third_party_language"]["ad:"+sim.AdKey(a)] = true
		}
	}
	inWindow := func(ads []sim.Ad, key func(sim.Ad) string) int {
		best := 0
		for _, x := range ads {
			set := map[string]bool{}
			for _, y := range ads {
				if d := y.PostedAt.Sub(x.PostedAt); d >= 0 && d <= 30*24*time.Hour {
					set[key(y)] = true
				}
			}
			best = max(best, len(set))
		}
		return best
	}
	for pid, ads := range byPerson {
		p := world.Persons[pid]
		ages := map[int]bool{}
		for _, a := range ads {
			ages[a.Age] = true
		}
		if p.Youth || (p.Falling && len(ages) > 1) {
			want["possible_minor"][fmt.Sprint(pid)] = true
		}
		if inWindow(ads, func(a sim.Ad) string { return a.City }) >= 3 {
			want["circuit"][fmt.Sprint(pid)] = true
		}
	}
	for ph, ads := range byPhone {
		persons := map[int]bool{}
		for _, a := range ads {
			persons[a.Person] = true
		}
		if inWindow(ads, func(a sim.Ad) string { return fmt.Sprint(a.Person) }) >= 3 {
			want["shared_phone"]["phone:"+ph] = true
		} else if len(persons) >= 5 {
			want["shared_phone_all_time"]["phone:"+ph] = true
		}
		if n, base := surge(ads); n >= 10 && base > 0 && float64(n) >= 4*base {
			want["phone_surge"]["phone:"+ph] = true
		}
	}
	for pid, ads := range byPerson {
		if n, base := surge(ads); n >= 6 && base > 0 && float64(n) >= 4*base {
			want["profile_surge"][fmt.Sprint(pid)] = true
		} else if world.Persons[pid].Surge {
			t.Errorf("the simulator planted a surge for person %d that is not one (%d against %.2f)", pid, n, base)
		}
	}
	la, _ := time.LoadLocation("America/Los_Angeles")
	cityDay := map[string]map[string]int{}
	for _, a := range world.Ads {
		if cityDay[a.City] == nil {
			cityDay[a.City] = map[string]int{}
		}
		cityDay[a.City][a.PostedAt.In(la).Format("2006-01-02")]++
	}
	for city, counts := range cityDay {
		for date, n := range counts {
			day, _ := time.Parse("2006-01-02", date)
			sum, days := 0, 0
			for _, back := range [][]int{{7, 14, 21, 28}, {1, 2, 3, 4, 5, 6, 7}} {
				for _, d := range back {
					if c, ok := counts[day.AddDate(0, 0, -d).Format("2006-01-02")]; ok {
						sum, days = sum+c, days+1
					}
				}
				if days > 0 {
					break
				}
			}
			if days > 0 && n >= 20 && float64(n) >= 1.5*float64(sum)/float64(days) {
				want["city_surge"]["city:"+city+"@"+date] = true
			}
		}
	}
	got := map[string]map[string]bool{}
	for _, al := range list {
		if got[al.Rule] == nil {
			got[al.Rule] = map[string]bool{}
		}
		key := al.Entity
		if strings.HasPrefix(key, "profile:") {
			key = fmt.Sprint(personOfProfile[strings.TrimPrefix(key, "profile:")])
		}
		got[al.Rule][key] = true
	}
	for rule, w := range want {
		tp := 0
		for k := range got[rule] {
			if w[k] {
				tp++
			}
		}
		p, r := float64(tp)/float64(max(len(got[rule]), 1)), float64(tp)/float64(max(len(w), 1))
		t.Logf("rule %s: %d alerts, %d planted; precision %.3f, recall %.3f", rule, len(got[rule]), len(w), p, r)
		if len(w) == 0 && rule == "shared_phone_all_time" {
			// The simulator's networks post within a month of each other:
			// the all-time rule must stay silent on all of them.
			if len(got[rule]) > 0 {
				t.Errorf("rule %s: %d alerts where the simulator planted none", rule, len(got[rule]))
			}
			continue
		}
		if len(w) == 0 {
			t.Errorf("rule %s: the simulator planted nothing", rule)
		}
		if p < 0.9 || r < 0.9 {
			t.Errorf("rule %s: precision %.3f, recall %.3f, want at least 0.9", rule, p, r)
		}
	}
	return list
}
