package indexer

import (
	"testing"
	"time"

	"github.com/adwatch/adwatch/internal/record"
)

// TestPurgeThenReopen: purged ads leave the index and the links, the links
// left are those of the ads left, and a reopened index (from its saved
// linker state) answers the same.
func TestPurgeThenReopen(t *testing.T) {
	dir := t.TempDir()
	x, err := Open(dir, 8, 25, false)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2020, 10, 2, 12, 0, 0, 0, time.UTC)
	ad := func(id, poster, phone string, fetched time.Time) record.Ad {
		return record.Ad{ID: id, City: "Oakland", Title: id, Poster: poster, PostedAt: fetched, FetchedAt: fetched, PageSHA256: "p" + id,
			Phones: []record.Phone{{E164: phone}}}
	}
	ads := []record.Ad{
		ad("s:1", "Ana", "+15108730101", at),                  // purged: Ana's first ad
		ad("s:2", "Ana", "+15108730101", at.AddDate(0, 1, 0)), // Ana goes on
		ad("s:3", "Bea", "+15108730102", at),                  // purged with her whole profile
		ad("s:4", "Cam", "+15108730101", at.AddDate(0, 1, 0)), // Ana's network
	}
	if _, err := x.Put(ads); err != nil {
		t.Fatal(err)
	}
	anaBefore := x.Linker.Profile("s:1")
	got, err := x.Purge([]string{"s:1", "s:3"}, nil, at.AddDate(0, 0, 1))
	if err != nil || len(got.Ads) != 2 {
		t.Fatalf("purge: %+v %v", got, err)
	}
	check := func(when string) {
		t.Helper()
		l := x.Linker
		if l.Profile("s:1") != "" || l.Profile("s:3") != "" {
			t.Errorf("%s: purged ads still linked: %q %q", when, l.Profile("s:1"), l.Profile("s:3"))
		}
		if l.Resolve(anaBefore) != l.Profile("s:2") {
			t.Errorf("%s: Ana's old profile id resolves to %s, want %s", when, l.Resolve(anaBefore), l.Profile("s:2"))
		}
		if l.Network(l.Profile("s:2")) != l.Network(l.Profile("s:4")) {
			t.Errorf("%s: the shared phone no longer joins Ana's and Cam's profiles", when)
		}
		if n, _ := x.Count(); n != 2 {
			t.Errorf("%s: %d ads indexed, want 2", when, n)
		}
	}
	check("after the purge")
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	x, err = Open(dir, 8, 25, false)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	check("reopened")
}
