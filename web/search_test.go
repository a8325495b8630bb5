package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/adwatch/adwatch/indexer"
	"github.com/adwatch/adwatch/internal/record"
)

// facetServer serves 12 ads: 8 in Oakland on site a, 4 in San Jose on
// site b; the Oakland ones by one person with phone +15108730123, ages
// 17 (even ads) or 19, the youth indicator on every third ad; October
// and November 2020.
func facetServer(t *testing.T) *site {
	t.Helper()
	idx := openIndex(t)
	t0 := time.Date(2020, 10, 20, 12, 0, 0, 0, time.UTC)
	var ads []record.Ad
	for i := range 12 {
		a := record.Ad{ID: fmt.Sprintf("a:%02d", i), Site: "a", City: "Oakland", Title: "sweet company", Poster: "Rosa",
			PostedAt: t0.AddDate(0, 0, i*2), PageSHA256: fmt.Sprint(i), Phones: []record.Phone{{E164: "+15108730123"}},
			Ages: []int{19}, Images: []record.Image{{URL: "http://a/1.jpg", SHA256: "f00d"}}}
		if i%2 == 0 {
			a.Ages = []int{17}
		}
		if i%3 == 0 {
			a.Indicators = []record.Indicator{{Category: "youth", Term: "young"}}
		}
		if i >= 8 {
			a.ID, a.Site, a.City, a.Poster = fmt.Sprintf("b:%02d", i), "b", "San Jose", "Mia"
			a.Phones = []record.Phone{{E164: fmt.Sprintf("+1408555%04d", i)}}
			a.Images = nil
		}
		ads = append(ads, a)
	}
	if _, err := idx.Put(ads); err != nil {
		t.Fatal(err)
	}
	return serve(t, idx, nil)
}

func getSearch(t *testing.T, ts *site, params string) (SearchResult, int) {
	t.Helper()
	resp, err := ts.c.Get(ts.URL + "/api/search?" + params)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var res SearchResult
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
			t.Fatal(err)
		}
	}
	return res, resp.StatusCode
}

func TestSearchFiltersAndPaging(t *testing.T) {
	ts := facetServer(t)
	for _, tc := range []struct {
		params        string
		status        int
		total, onPage int
	}{
		{"q=" + url.QueryEscape("873-0123"), 200, 8, 8},
		{"q=0123", 200, 8, 8},
		{"q=510873", 200, 8, 8},
		{"q=5550009", 200, 1, 1},
		{"q=sweet&city=San+Jose", 200, 4, 4},
		{"q=sweet&city=oakland&size=3&page=3", 200, 8, 2},
		{"q=sweet&size=5&page=2", 200, 12, 5},
		{"site=b", 200, 4, 4},
		{"category=youth", 200, 4, 4},
		{"from=2020-11-01&to=2020-11-30", 200, 6, 6},
		{"from=2020-10-20&to=2020-10-20", 200, 1, 1},
		{"min_age=18&max_age=20", 200, 6, 6},
		{"max_age=17&city=Oakland", 200, 4, 4},
		{"", 400, 0, 0},
		{"q=x&from=20-10-2020", 400, 0, 0},
		{"q=x&size=501", 400, 0, 0},
		{"q=x&page=0", 400, 0, 0},
		{"q=x&page=200&size=100", 400, 0, 0},
		{"q=x&by=people", 400, 0, 0},
	} {
		res, status := getSearch(t, ts, tc.params)
		if status != tc.status || int(res.Total) != tc.total || len(res.Ads) != tc.onPage {
			t.Errorf("search %q: %d, %d ads, %d on the page; want %d, %d, %d", tc.params, status, res.Total, len(res.Ads), tc.status, tc.total, tc.onPage)
		}
	}
}

func TestSearchFacets(t *testing.T) {
	ts := facetServer(t)
	res, status := getSearch(t, ts, "q=sweet&size=2")
	if status != 200 {
		t.Fatalf("status %d", status)
	}
	want := &indexer.Facets{
		City:     []indexer.Facet{{Value: "oakland", Count: 8}, {Value: "san jose", Count: 4}},
		Site:     []indexer.Facet{{Value: "a", Count: 8}, {Value: "b", Count: 4}},
		Category: []indexer.Facet{{Value: "youth", Count: 4}},
		Age:      []indexer.Facet{{Value: "under 18", Count: 6}, {Value: "18-20", Count: 6}},
		Month:    []indexer.Facet{{Value: "2020-10", Count: 6}, {Value: "2020-11", Count: 6}},
	}
	if d := cmp.Diff(want, res.Facets); d != "" {
		t.Errorf("facets (-want +got):\n%s", d)
	}
	if res.Total != 12 || res.Page != 1 || res.Size != 2 || len(res.Ads) != 2 || res.By != "ads" {
		t.Errorf("paging: total %d, page %d, size %d, %d ads, by %q", res.Total, res.Page, res.Size, len(res.Ads), res.By)
	}
	// Facets count the matching ads only.
	res, _ = getSearch(t, ts, "q=sweet&city=San+Jose")
	if d := cmp.Diff([]indexer.Facet{{Value: "san jose", Count: 4}}, res.Facets.City); d != "" {
		t.Errorf("city facet of San Jose (-want +got):\n%s", d)
	}
}

func TestSearchByProfiles(t *testing.T) {
	ts := facetServer(t)
	res, status := getSearch(t, ts, "q=sweet&by=profiles&size=1")
	if status != 200 || res.By != "profiles" || res.ProfileTotal != 5 || len(res.ProfileResults) != 1 {
		t.Fatalf("by profiles: %d, by %q, %d profiles, %d on the page", status, res.By, res.ProfileTotal, len(res.ProfileResults))
	}
	res, _ = getSearch(t, ts, "q="+url.QueryEscape("873-0123")+"&by=profiles")
	if len(res.ProfileResults) != 1 {
		t.Fatalf("profiles of 873-0123: %+v", res.ProfileResults)
	}
	p := res.ProfileResults[0]
	if p.Ads != 8 || !cmp.Equal(p.Phones, []string{"+15108730123"}) || !cmp.Equal(p.Cities, []string{"Oakland"}) ||
		!cmp.Equal(p.Ages, []int{17, 19}) || p.Photo != "f00d" || !p.LastSeen.Equal(time.Date(2020, 11, 3, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("profile result: %+v", p)
	}
}
