package indexer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/google/go-cmp/cmp"

	"github.com/adwatch/adwatch/internal/record"
)

// threeMonths are ads posted in October, November and December 2020, one
// with no time posted, sharing phones, words and cities across months.
func threeMonths() []record.Ad {
	var ads []record.Ad
	start := time.Date(2020, 10, 20, 9, 30, 0, 0, time.UTC)
	words := []string{"friendly new in town", "sweet smile calls only", "new girl friendly", "discreet visits"}
	for i := range 60 {
		a := record.Ad{ID: fmt.Sprintf("s:%03d", i), Site: []string{"s", "t"}[i%2], City: []string{"Oakland", "San Jose", "Fresno"}[i%3],
			Title: fmt.Sprintf("ad %d %s", i, words[i%4]), Body: words[(i+1)%4], Poster: []string{"Rosa", "Mia", "Ana"}[i%3],
			PostedAt: start.Add(time.Duration(i) * 26 * time.Hour), PageSHA256: fmt.Sprint(i), FetchedAt: start.Add(time.Duration(i) * 27 * time.Hour),
			Phones: []record.Phone{{E164: fmt.Sprintf("+1510873%04d", i%11)}}, Ages: []int{17 + i%12}}
		if i%5 == 0 {
			a.Indicators = []record.Indicator{{Category: "youth", Term: "young"}}
		}
		if i%9 == 0 {
			a.Handles = []string{fmt.Sprintf("instagram:person%d", i%2)}
		}
		ads = append(ads, a)
	}
	ads[59].PostedAt = time.Time{}
	// A number of one month's ad only.
	ads[30].Phones = append(ads[30].Phones, record.Phone{E164: "+14155550100"})
	return ads
}

// legacyDir writes ads into a data dir as adwatch wrote it before the
// shards: every ad in index.bleve.
func legacyDir(t testing.TB, ads []record.Ad) string {
	t.Helper()
	dir := t.TempDir()
	bi, err := bleve.New(filepath.Join(dir, "index.bleve"), newMapping())
	if err != nil {
		t.Fatal(err)
	}
	b := bi.NewBatch()
	for i := range ads {
		d, err := toDoc(&ads[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Index(ads[i].ID, d); err != nil {
			t.Fatal(err)
		}
	}
	if err := bi.Batch(b); err != nil {
		t.Fatal(err)
	}
	if err := bi.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func shardKeys(t *testing.T, x *Index) []string {
	t.Helper()
	var keys []string
	for _, k := range x.bleve.keys() {
		if n, err := x.bleve.shards[k].idx.DocCount(); err != nil || n > 0 {
			keys = append(keys, k)
		}
	}
	return keys
}

// TestShardsAnswerAsOneIndex: ads of three months land in three shards
// (and one of an unknown time in its month first seen's undated shard), and
// searches, phone look-ups, profiles and counts answer as one index of
// them all does: the same ads, scores, order, totals and facets.
func TestShardsAnswerAsOneIndex(t *testing.T) {
	ads := threeMonths()
	one, err := Open(legacyDir(t, ads), 8, 25, false)
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	sharded, err := Open(t.TempDir(), 8, 25, false)
	if err != nil {
		t.Fatal(err)
	}
	defer sharded.Close()
	for start := 0; start < len(ads); start += 13 {
		if _, err := sharded.Put(ads[start:min(start+13, len(ads))]); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := shardKeys(t, sharded), []string{"2020-10", "2020-11", "2020-12", "undated-2020-12"}; !slices.Equal(got, want) {
		t.Errorf("shards with ads: %v, want %v", got, want)
	}
	if got := shardKeys(t, one); !slices.Equal(got, []string{""}) {
		t.Errorf("one index: ads in shards %v, want the legacy index alone", got)
	}
	nov := time.Date(2020, 11, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		s    Search
	}{
		{"all", Search{Size: 100, Facets: true}},
		{"page", Search{Size: 7, Offset: 5, Facets: true}},
		{"words", Search{Text: "friendly town", Size: 100, Facets: true}},
		{"words, few", Search{Text: "new smile", Size: 3}},
		{"phone", Search{Phones: []string{"+15108730003"}, Size: 100}},
		{"phone part", Search{PhonePart: "510873", Size: 100}},
		{"phone of one month", Search{Phones: []string{"+14155550100"}, Size: 100, Facets: true}},
		{"part of one month's phone", Search{PhonePart: "5550100", Size: 100}},
		{"phone end", Search{PhonePart: "0007", Size: 100}},
		{"handle", Search{Handles: []string{"instagram:person1"}, Size: 100}},
		{"November", Search{From: nov, Until: nov.AddDate(0, 1, 0), Size: 100, Facets: true}},
		{"November's words", Search{Text: "friendly", From: nov, Until: nov.AddDate(0, 1, 0), Size: 100}},
		{"since November", Search{From: nov, Size: 100}},
		{"until November", Search{Until: nov, Size: 100}},
		{"ages", Search{MinAge: 18, MaxAge: 21, Text: "new", Size: 100}},
		{"city and category", Search{City: "oakland", Category: "youth", Size: 100, Facets: true}},
	} {
		want, err := one.Find(tc.s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := sharded.Find(tc.s)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: Find differs from one index (-one +sharded):\n%s", tc.name, diff)
		}
		if want.Total == 0 {
			t.Errorf("%s: found nothing; the case tests nothing", tc.name)
		}
		wantP, err := one.FindProfiles(tc.s, 0, 5)
		if err != nil {
			t.Fatal(err)
		}
		gotP, err := sharded.FindProfiles(tc.s, 0, 5)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(wantP, gotP); diff != "" {
			t.Errorf("%s: FindProfiles differs from one index (-one +sharded):\n%s", tc.name, diff)
		}
	}
	for _, s := range []Search{{Phones: []string{"+19995550100"}, Facets: true}, {PhonePart: "99955", Size: 10}} {
		want, err := one.Find(s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := sharded.Find(s)
		if diff := cmp.Diff(want, got); diff != "" || err != nil || want.Total != 0 {
			t.Errorf("%+v: nothing found differs (-one +sharded), %v:\n%s", s, err, diff)
		}
	}
	for _, p := range []string{"+15108730003", "+15108730010"} {
		want, err := one.SearchPhones([]string{p}, 100)
		if err != nil {
			t.Fatal(err)
		}
		got, err := sharded.SearchPhones([]string{p}, 100)
		if err != nil {
			t.Fatal(err)
		}
		if !cmp.Equal(byID(want), byID(got)) || len(want) == 0 {
			t.Errorf("SearchPhones(%s): %v, one index %v", p, got, want)
		}
	}
	for _, a := range ads[:12] {
		p := one.Linker.Profile(a.ID)
		want, _, err := one.Profile(p)
		if err != nil {
			t.Fatal(err)
		}
		got, ok, err := sharded.Profile(p)
		if err != nil || !ok {
			t.Fatalf("profile %s of %s: %v %v", p, a.ID, ok, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("profile %s differs (-one +sharded):\n%s", p, diff)
		}
	}
	wantC, _ := one.CountPosted("Oakland", nov, nov.AddDate(0, 1, 0))
	gotC, _ := sharded.CountPosted("Oakland", nov, nov.AddDate(0, 1, 0))
	if wantC != gotC || wantC.Ads == 0 {
		t.Errorf("CountPosted: %+v, one index %+v", gotC, wantC)
	}
	if n, err := sharded.Count(); err != nil || n != uint64(len(ads)) {
		t.Errorf("Count: %d %v, want %d", n, err, len(ads))
	}
}

func byID(hs []Hit) []Hit {
	out := slices.Clone(hs)
	slices.SortFunc(out, func(a, b Hit) int {
		if a.ID < b.ID {
			return -1
		}
		if a.ID > b.ID {
			return 1
		}
		return 0
	})
	return out
}

// TestShardsOfADateRange: a search by date reads only the shards its
// months need (and undated ones); an edited ad stays in its shard, and a
// search of its new month still finds it there.
func TestShardsOfADateRange(t *testing.T) {
	x, err := Open(t.TempDir(), 8, 25, false)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	ads := threeMonths()
	if _, err := x.Put(ads); err != nil {
		t.Fatal(err)
	}
	nov := time.Date(2020, 11, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name        string
		from, until time.Time
		want        int // shards searched
	}{
		{"any time", time.Time{}, time.Time{}, 5},
		{"November", nov, nov.AddDate(0, 1, 0), 3},
		{"mid-November", nov.AddDate(0, 0, 10), nov.AddDate(0, 0, 12), 3},
		{"since December", nov.AddDate(0, 1, 0), time.Time{}, 3},
		{"until November", time.Time{}, nov, 3},
		{"October and November", nov.AddDate(0, -1, 0), nov.AddDate(0, 1, 0), 4},
	} {
		_, need, err := x.bleve.pick(tc.from, tc.until)
		if err != nil {
			t.Fatal(err)
		}
		if len(need) != tc.want {
			t.Errorf("%s: %d shards searched, want %d (the home index and undated ones included)", tc.name, len(need), tc.want)
		}
	}
	// s:000 (October) edited: now posted in December.
	edited := ads[0]
	edited.PostedAt, edited.PageSHA256 = time.Date(2020, 12, 24, 0, 0, 0, 0, time.UTC), "edited"
	if _, err := x.Put([]record.Ad{edited}); err != nil {
		t.Fatal(err)
	}
	if sh, _ := x.bleve.lookup("s:000"); sh == nil || sh.key != "2020-10" {
		t.Fatalf("edited ad in shard %v, want 2020-10", sh)
	}
	dec := nov.AddDate(0, 1, 0)
	f, err := x.Find(Search{From: dec, Until: dec.AddDate(0, 1, 0), Size: 100})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(f.Hits, func(h Hit) bool { return h.ID == "s:000" }) {
		t.Errorf("December's search misses the ad edited into December")
	}
	got, ok, err := x.Get("s:000")
	if err != nil || !ok || len(got.Versions) != 1 || got.PageSHA256 != "edited" {
		t.Errorf("Get(s:000): %v %v, %d versions, page %q", ok, err, len(got.Versions), got.PageSHA256)
	}
	// Old shards closed: searches without dates leave them out, a search
	// of their month and a read by id open them again.
	closed, err := x.CloseShardsBefore(nov)
	if err != nil || !slices.Equal(closed, []string{"2020-10"}) {
		t.Fatalf("CloseShardsBefore: %v %v", closed, err)
	}
	if n, _ := x.Count(); n != uint64(len(ads)) {
		t.Errorf("Count with a shard closed: %d, want %d", n, len(ads))
	}
	all, err := x.Find(Search{Size: 100})
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(all.Hits, func(h Hit) bool { return h.ID == "s:001" }) {
		t.Errorf("a search without dates finds s:001 of a closed shard")
	}
	if _, ok, err := x.Get("s:001"); err != nil || !ok {
		t.Errorf("Get(s:001) of a closed shard: %v %v", ok, err)
	}
}

// TestLegacyDataDirOpens: a data dir written before the shards (every
// ad in index.bleve) opens with its ads found; new ads go to shards, an
// edit of an old ad stays in index.bleve, and all of it opens again.
func TestLegacyDataDirOpens(t *testing.T) {
	ads := threeMonths()
	dir := legacyDir(t, ads[:40])
	x, err := Open(dir, 8, 25, false)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := x.Count(); err != nil || n != 40 {
		t.Fatalf("legacy index: %d ads, %v", n, err)
	}
	edited := ads[3]
	edited.Title, edited.PageSHA256 = "edited", "edited"
	if _, err := x.Put(append([]record.Ad{edited}, ads[40:]...)); err != nil {
		t.Fatal(err)
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "index.bleve", shardsDir, "2020-12.bleve")); err != nil {
		t.Errorf("new ads' shard: %v", err)
	}
	x, err = Open(dir, 8, 25, false)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if n, err := x.Count(); err != nil || n != uint64(len(ads)) {
		t.Errorf("reopened: %d ads, %v, want %d", n, err, len(ads))
	}
	if sh, err := x.bleve.lookup(edited.ID); err != nil || sh == nil || sh.key != "" {
		t.Errorf("edited old ad in shard %v (%v), want the legacy index", sh, err)
	}
	got, ok, err := x.Get(edited.ID)
	if err != nil || !ok || got.Title != "edited" || len(got.Versions) != 1 {
		t.Errorf("Get(%s): %v %v %q, %d versions", edited.ID, ok, err, got.Title, len(got.Versions))
	}
	f, err := x.Find(Search{Phones: []string{ads[45].Phones[0].E164}, Size: 100})
	if err != nil {
		t.Fatal(err)
	}
	var old, fresh bool
	for _, h := range f.Hits {
		old = old || h.ID < "s:040"
		fresh = fresh || h.ID >= "s:040"
	}
	if !old || !fresh {
		t.Errorf("a phone's ads old and new: %v", ids(f.Hits))
	}
}

// TestCompactShardsBefore: the months before the one given are merged
// into one file each, and every search answers as before; a second pass
// merges nothing, and a read-only index is not compacted.
func TestCompactShardsBefore(t *testing.T) {
	x, err := Open(t.TempDir(), 8, 25, false)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	// One batch an ad: a file (segment) an ad, until the merger comes.
	for _, a := range threeMonths() {
		if _, err := x.Put([]record.Ad{a}); err != nil {
			t.Fatal(err)
		}
	}
	searches := []Search{
		{Size: 100, Facets: true},
		{Text: "friendly", Size: 7, Offset: 2, Facets: true},
		{PhonePart: "8730004", Size: 100},
		{City: "Fresno", Size: 100},
	}
	answer := func() []Found {
		var out []Found
		for _, s := range searches {
			f, err := x.Find(s)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, f)
		}
		return out
	}
	before := answer()
	segs := func(key string) uint64 {
		sh := x.bleve.shards[key]
		ai, err := sh.idx.Advanced()
		if err != nil {
			t.Fatal(err)
		}
		return segments(ai.(*scorch.Scorch))
	}
	// The merger may have merged a month already: it is left alone.
	var want []string
	for _, k := range []string{"2020-10", "2020-11"} {
		if segs(k) > 1 {
			want = append(want, k)
		}
	}
	t.Logf("months in more than one segment before: %v", want)
	dec := time.Date(2020, 12, 5, 0, 0, 0, 0, time.UTC)
	done, err := x.CompactShardsBefore(context.Background(), dec)
	if err != nil || !slices.Equal(done, want) {
		t.Fatalf("CompactShardsBefore: %v %v, want %v", done, err, want)
	}
	for _, k := range []string{"2020-10", "2020-11"} {
		if n := segs(k); n != 1 {
			t.Errorf("%s in %d segments after compacting, want 1", k, n)
		}
	}
	if diff := cmp.Diff(before, answer()); diff != "" {
		t.Errorf("searches answer otherwise after compacting (-before +after):\n%s", diff)
	}
	if done, err := x.CompactShardsBefore(context.Background(), dec); err != nil || len(done) != 0 {
		t.Errorf("second pass compacted %v (%v), want none", done, err)
	}
	ro, err := Open(t.TempDir(), 8, 25, false)
	if err != nil {
		t.Fatal(err)
	}
	ro.readOnly = true
	defer ro.Close()
	if _, err := ro.CompactShardsBefore(context.Background(), dec); err == nil {
		t.Error("a read-only index compacted")
	}
}

// TestCompactWhileClosing: compacting and closing the same months at once
// (the index stage's hourly pass and an operator's CloseShardsBefore) is
// not an error and leaves every month searchable by its dates. Run with
// -race.
func TestCompactWhileClosing(t *testing.T) {
	x, err := Open(t.TempDir(), 8, 25, false)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	for _, a := range threeMonths() {
		if _, err := x.Put([]record.Ad{a}); err != nil {
			t.Fatal(err)
		}
	}
	dated := Search{From: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), Size: 100}
	before, err := x.Find(dated)
	if err != nil || before.Total == 0 {
		t.Fatalf("before: %v ads, %v", before.Total, err)
	}
	dec := time.Date(2020, 12, 5, 0, 0, 0, 0, time.UTC)
	errc := make(chan error, 1)
	go func() {
		_, err := x.CompactShardsBefore(context.Background(), dec)
		errc <- err
	}()
	if _, err := x.CloseShardsBefore(dec); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Errorf("compacting while the months close: %v", err)
	}
	f, err := x.Find(dated)
	if err != nil {
		t.Fatal(err)
	}
	if f.Total != before.Total {
		t.Errorf("%d ads found by their dates after compacting and closing, want %d", f.Total, before.Total)
	}
}

// TestCompactCancelled: a compaction whose context has ended reports it and
// names no month as compacted.
func TestCompactCancelled(t *testing.T) {
	x, err := Open(t.TempDir(), 8, 25, false)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	for _, a := range threeMonths() {
		if _, err := x.Put([]record.Ad{a}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	done, err := x.CompactShardsBefore(ctx, time.Date(2020, 12, 5, 0, 0, 0, 0, time.UTC))
	if !errors.Is(err, context.Canceled) || len(done) != 0 {
		t.Errorf("cancelled compaction: %v, %v; want context.Canceled and none", done, err)
	}
}
