package indexer

import (
	"slices"
	"testing"
	"time"

	"github.com/adwatch/adwatch/internal/record"
)

// TestEditedAdKeepsItsVersions: an ad whose phone changes keeps its
// earlier version; a search by the old phone and by the new one finds it;
// it is handed back for evaluation at once; a reopened index links it by
// both phones.
func TestEditedAdKeepsItsVersions(t *testing.T) {
	dir := t.TempDir()
	x, err := Open(dir, 8, 25, false)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2020, 10, 2, 12, 0, 0, 0, time.UTC)
	v1 := record.Ad{ID: "s:1", City: "Oakland", Title: "first", PostedAt: at, FetchedAt: at, PageSHA256: "a",
		Phones: []record.Phone{{E164: "+15108730123"}}}
	other := record.Ad{ID: "s:2", City: "Oakland", Title: "other", PostedAt: at, FetchedAt: at, PageSHA256: "b",
		Phones: []record.Phone{{E164: "+15108730123"}}}
	if _, err := x.Put([]record.Ad{v1, other}); err != nil {
		t.Fatal(err)
	}
	if x.Linker.Network(x.Linker.Profile("s:1")) != x.Linker.Network(x.Linker.Profile("s:2")) {
		t.Fatal("two ads with one phone are not in one network")
	}
	v2 := v1
	v2.Title, v2.PageSHA256, v2.FetchedAt = "second", "c", at.Add(24*time.Hour)
	v2.Phones = []record.Phone{{E164: "+14085550199"}}
	changed, err := x.Put([]record.Ad{v2})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(changed, "s:1") {
		t.Errorf("the edited ad is not handed back for evaluation: %v", changed)
	}
	got, ok, err := x.Get("s:1")
	if err != nil || !ok || got.Title != "second" || len(got.Versions) != 1 || got.Versions[0].Title != "first" ||
		!slices.Equal(got.Versions[0].Phones, []string{"+15108730123"}) {
		t.Fatalf("edited ad: %+v %v %v", got, ok, err)
	}
	for _, p := range []string{"+15108730123", "+14085550199"} {
		hits, err := x.SearchPhones([]string{p}, 10)
		if err != nil || !slices.ContainsFunc(hits, func(h Hit) bool { return h.ID == "s:1" }) {
			t.Errorf("search by %s: %+v %v", p, hits, err)
		}
	}
	// Same content again: nothing new.
	if changed, err := x.Put([]record.Ad{v2}); err != nil || len(changed) != 0 {
		t.Errorf("the same version again: %v %v", changed, err)
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	x, err = Open(dir, 8, 25, false)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	n := func(id string) string { return x.Linker.Network(x.Linker.Profile(id)) }
	if n("s:1") != n("s:2") {
		t.Errorf("after a restart the edited ad no longer links by its old phone")
	}
}

// TestEditedAdIsRelinkedAtOnce: an ad edited to carry another person's
// phone and name joins that person's profile at the next batch, not at the
// next restart, keeps its network by the old phone, and links as a
// reopened index links it.
func TestEditedAdIsRelinkedAtOnce(t *testing.T) {
	dir := t.TempDir()
	x, err := Open(dir, 8, 25, false)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2020, 10, 2, 12, 0, 0, 0, time.UTC)
	ana := record.Ad{ID: "s:1", City: "Oakland", Title: "Ana", Poster: "Ana", PostedAt: at, FetchedAt: at, PageSHA256: "a",
		Phones: []record.Phone{{E164: "+15108730123"}}}
	bea := record.Ad{ID: "s:2", City: "Oakland", Title: "Bea", Poster: "Bea", PostedAt: at.Add(time.Hour), FetchedAt: at, PageSHA256: "b",
		Phones: []record.Phone{{E164: "+14085550199"}}}
	third := record.Ad{ID: "s:3", City: "Oakland", Title: "Cam", Poster: "Cam", PostedAt: at, FetchedAt: at, PageSHA256: "c",
		Phones: []record.Phone{{E164: "+15108730123"}}}
	if _, err := x.Put([]record.Ad{ana, bea, third}); err != nil {
		t.Fatal(err)
	}
	if x.Linker.Profile("s:1") == x.Linker.Profile("s:2") {
		t.Fatal("two persons with their own phones and names share a profile before the edit")
	}
	edit := bea
	edit.Poster, edit.PageSHA256, edit.FetchedAt = "Ana", "b2", at.Add(24*time.Hour)
	edit.Phones = []record.Phone{{E164: "+15108730123"}}
	changed, err := x.Put([]record.Ad{edit})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(changed, "s:2") {
		t.Errorf("the relinked ad is not handed back: %v", changed)
	}
	check := func(when string) {
		t.Helper()
		l := x.Linker
		if l.Profile("s:2") != l.Profile("s:1") {
			t.Errorf("%s: the ad edited to Ana's phone and name is in profile %s, Ana's is %s", when, l.Profile("s:2"), l.Profile("s:1"))
		}
		if l.Profile("s:3") == l.Profile("s:1") {
			t.Errorf("%s: Cam joined Ana's profile on a shared phone alone", when)
		}
		if l.Network(l.Profile("s:3")) != l.Network(l.Profile("s:2")) {
			t.Errorf("%s: Cam's phone no longer joins the edited ad's network", when)
		}
		if hits, err := x.SearchPhones([]string{"+14085550199"}, 10); err != nil || !slices.ContainsFunc(hits, func(h Hit) bool { return h.ID == "s:2" }) {
			t.Errorf("%s: search by the old phone misses the edited ad: %+v %v", when, hits, err)
		}
	}
	check("at once")
	again, err := x.Put([]record.Ad{edit})
	if err != nil || len(again) != 0 {
		t.Errorf("the same edit again: %v %v", again, err)
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	x, err = Open(dir, 8, 25, false)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	check("after a restart")
}
