package indexer

import (
	"testing"
	"time"

	"github.com/adwatch/adwatch/internal/record"
)

// TestMarkGone: a complete pass that no longer finds an ad's page marks it
// gone at the pass's end, once; a later pass that finds it again clears
// it; another site's ads and ads fetched during the pass are left alone.
func TestMarkGone(t *testing.T) {
	x, err := Open(t.TempDir(), 8, 25, false)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	t0 := time.Date(2020, 10, 2, 12, 0, 0, 0, time.UTC)
	ad := func(id, site, url string, fetched time.Time) record.Ad {
		return record.Ad{ID: id, Site: site, URL: url, City: "Oakland", PostedAt: t0, FetchedAt: fetched, PageSHA256: id,
			Phones: []record.Phone{{E164: "+15108730123"}}}
	}
	if _, err := x.Put([]record.Ad{
		ad("s:1", "s", "http://s.example/ad/1", t0), ad("s:2", "s", "http://s.example/ad/2", t0),
		ad("o:1", "o", "http://o.example/ad/1", t0), ad("s:3", "s", "http://s.example/ad/3", t0.Add(3*time.Hour)),
	}); err != nil {
		t.Fatal(err)
	}
	pass := record.SitePass{Site: "s", Started: t0.Add(time.Hour), Finished: t0.Add(2 * time.Hour), AdURLs: []string{"http://s.example/ad/1"}}
	ids, err := x.MarkGone(pass)
	if err != nil || len(ids) != 1 || ids[0] != "s:2" {
		t.Fatalf("first pass marked %v, %v; want s:2", ids, err)
	}
	gone := func(id string) time.Time {
		a, _, err := x.Get(id)
		if err != nil {
			t.Fatal(err)
		}
		return a.GoneAt
	}
	if !gone("s:2").Equal(pass.Finished) || !gone("s:1").IsZero() || !gone("o:1").IsZero() || !gone("s:3").IsZero() {
		t.Errorf("gone: s:1 %v s:2 %v o:1 %v s:3 %v", gone("s:1"), gone("s:2"), gone("o:1"), gone("s:3"))
	}
	later := pass
	later.Started, later.Finished = t0.Add(5*time.Hour), t0.Add(6*time.Hour)
	later.AdURLs = []string{"http://s.example/ad/1", "http://s.example/ad/3"}
	if ids, _ := x.MarkGone(later); len(ids) != 0 || !gone("s:2").Equal(pass.Finished) {
		t.Errorf("a second pass without it changed %v; gone at %v, want the first time kept", ids, gone("s:2"))
	}
	back := later
	back.AdURLs = append(back.AdURLs, "http://s.example/ad/2")
	if ids, _ := x.MarkGone(back); len(ids) != 1 || !gone("s:2").IsZero() {
		t.Errorf("found again: %v, gone at %v", ids, gone("s:2"))
	}
	// The ad is still indexed, searchable and linked.
	if n, _ := x.Count(); n != 4 {
		t.Errorf("%d ads indexed, want 4", n)
	}
}
