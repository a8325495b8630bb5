package indexer

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search"
	"github.com/google/go-cmp/cmp"

	"github.com/adwatch/adwatch/internal/record"
)

func searchAds() []record.Ad {
	t0 := time.Date(2020, 10, 2, 12, 0, 0, 0, time.UTC)
	youth := []record.Indicator{{Category: "youth", Term: "young"}}
	return []record.Ad{
		{ID: "s:1", Site: "s", City: "Oakland", Title: "new in town", Poster: "Rosa", PostedAt: t0, PageSHA256: "1",
			Phones: []record.Phone{{E164: "+15108730123"}}, Ages: []int{19, 20}, Indicators: youth},
		{ID: "s:2", Site: "s", City: "Oakland", Title: "sweet", Poster: "Rosa", PostedAt: t0.AddDate(0, 1, 0), PageSHA256: "2",
			Phones: []record.Phone{{E164: "+15108730123"}}, Ages: []int{17}},
		{ID: "t:3", Site: "t", City: "San Jose", Title: "kind", Poster: "Mia", PostedAt: t0, PageSHA256: "3",
			Phones: []record.Phone{{E164: "+14085550199"}}, Ages: []int{30}, Indicators: youth},
	}
}

func TestFind(t *testing.T) {
	idx, err := Open(t.TempDir(), 8, 25, false)
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	if _, err := idx.Put(searchAds()); err != nil {
		t.Fatal(err)
	}
	oct := time.Date(2020, 10, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		s    Search
		want uint64
	}{
		{"all", Search{}, 3},
		{"last digits", Search{PhonePart: "8730123"}, 2},
		{"first digits", Search{PhonePart: "510873"}, 2},
		{"middle digits", Search{PhonePart: "8730"}, 0},
		{"city in any case", Search{City: "oakland"}, 2},
		{"site", Search{Site: "t"}, 1},
		{"category", Search{Category: "youth"}, 2},
		{"October", Search{From: oct, Until: oct.AddDate(0, 1, 0)}, 2},
		{"minor", Search{MaxAge: 17}, 1},
		{"18 to 25", Search{MinAge: 18, MaxAge: 25}, 1},
		{"words and city", Search{Text: "kind", City: "San Jose"}, 1},
		{"phone", Search{Phones: []string{"+14085550199"}}, 1},
	} {
		got, err := idx.Find(tc.s)
		if err != nil {
			t.Fatal(err)
		}
		if got.Total != tc.want {
			t.Errorf("%s: %d ads, want %d", tc.name, got.Total, tc.want)
		}
	}

	got, err := idx.Find(Search{Size: 2, Offset: 2, Facets: true})
	if err != nil {
		t.Fatal(err)
	}
	if got.Total != 3 || len(got.Hits) != 1 {
		t.Errorf("page 2 of size 2: %d hits of %d, want 1 of 3", len(got.Hits), got.Total)
	}
	want := &Facets{
		City:     []Facet{{"oakland", 2}, {"san jose", 1}},
		Site:     []Facet{{"s", 2}, {"t", 1}},
		Category: []Facet{{"youth", 2}},
		Age:      []Facet{{"under 18", 1}, {"18-20", 1}, {"26+", 1}},
		Month:    []Facet{{"2020-10", 2}, {"2020-11", 1}},
	}
	if d := cmp.Diff(want, got.Facets); d != "" {
		t.Errorf("facets (-want +got):\n%s", d)
	}

	pf, err := idx.FindProfiles(Search{PhonePart: "0123"}, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if pf.Total != 1 || pf.Ads != 2 || len(pf.Profiles) != 1 {
		t.Fatalf("profiles of 0123: %+v", pf)
	}
	p := pf.Profiles[0]
	if p.Ads != 2 || !cmp.Equal(p.Ages, []int{17, 19, 20}) || !cmp.Equal(p.Cities, []string{"Oakland"}) || !p.LastSeen.Equal(searchAds()[1].PostedAt) {
		t.Errorf("profile summary: %+v", p)
	}
}

// TestPagesInScoreThenIDOrder: a page of hits is the ads best score
// first, equal scores in id order, whether ties cross the page's end or
// not, across monthly shards; and the total and facets are all matches'.
func TestPagesInScoreThenIDOrder(t *testing.T) {
	idx, err := Open(t.TempDir(), 8, 25, false)
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	t0 := time.Date(2020, 10, 2, 12, 0, 0, 0, time.UTC)
	var ads []record.Ad
	// Ids not in the order indexed, months apart; titles of three
	// scores: "rose rose" above "rose", above "rose garden party".
	titles := []string{"rose", "rose rose", "rose garden party"}
	for i := range 30 {
		id := fmt.Sprintf("s:%02d", (i*7)%30)
		ads = append(ads, record.Ad{ID: id, Site: "s", City: "Oakland", Title: titles[i%3],
			PostedAt: t0.AddDate(0, -(i % 4), 0), PageSHA256: id})
	}
	if _, err := idx.Put(ads); err != nil {
		t.Fatal(err)
	}
	all, err := idx.Find(Search{Text: "rose", Size: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Hits) != 30 {
		t.Fatalf("%d hits, want 30", len(all.Hits))
	}
	for i := 1; i < len(all.Hits); i++ {
		a, b := all.Hits[i-1], all.Hits[i]
		if a.Score < b.Score || (a.Score == b.Score && a.ID >= b.ID) {
			t.Fatalf("hits %d and %d out of order: %v %v", i-1, i, a, b)
		}
	}
	if all.Hits[0].Score == all.Hits[len(all.Hits)-1].Score {
		t.Fatal("every hit scores alike: the test needs scores that differ")
	}
	// Every page, ties crossing its ends or not, is that order's slice.
	for offset := range 30 {
		for _, size := range []int{1, 3, 10, 11, 25} {
			got, err := idx.Find(Search{Text: "rose", Offset: offset, Size: size, Facets: true})
			if err != nil {
				t.Fatal(err)
			}
			want := all.Hits[offset:min(offset+size, 30)]
			if diff := cmp.Diff(want, got.Hits); diff != "" {
				t.Fatalf("offset %d size %d (-want +got):\n%s", offset, size, diff)
			}
			if got.Total != 30 || got.Facets == nil || len(got.Facets.Month) != 4 {
				t.Fatalf("offset %d size %d: total %d, facets %+v", offset, size, got.Total, got.Facets)
			}
		}
	}
}

// TestTopHitsAsBleveOrders: searchTop's page is the page bleve's own
// order by score and id gives, over shards of many ties, for pages that
// start and end inside runs of equal scores, with the total and facets
// bleve counts: ads edited (some into another month) and purged, look-ups
// by phone (which read only the shards that have it), date ranges and
// pages of none.
func TestTopHitsAsBleveOrders(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 7))
	words := []string{"rose", "garden", "party", "sweet", "new"}
	cities, sites := []string{"Oakland", "San Jose"}, []string{"s", "t"}
	categories := []string{"youth", "control", "movement"}
	phones := []string{"+15108730123", "+14085550199", "+15105550142"}
	t0 := time.Date(2020, 10, 2, 12, 0, 0, 0, time.UTC)
	var ads []record.Ad
	for i := range 1200 {
		title := make([]string, 1+r.IntN(3))
		for j := range title {
			title[j] = words[r.IntN(len(words))]
		}
		// 250 ids for 1,200 ads: most are edited, some more than once.
		id := fmt.Sprintf("s:%04d", r.IntN(250))
		a := record.Ad{ID: id, Site: sites[r.IntN(2)], City: cities[r.IntN(2)], Title: strings.Join(title, " "),
			Body: words[r.IntN(len(words))], PostedAt: t0.AddDate(0, -r.IntN(6), -r.IntN(20)), PageSHA256: fmt.Sprint(i),
			Phones: []record.Phone{{E164: phones[r.IntN(len(phones))]}}}
		for range r.IntN(3) {
			a.Ages = append(a.Ages, 16+r.IntN(15))
			a.Indicators = append(a.Indicators, record.Indicator{Category: categories[r.IntN(3)], Term: "x"})
		}
		ads = append(ads, a)
	}
	// In batches, so that shards have several segments.
	idx := buildIndex(t, t.TempDir(), ads, 40)
	defer idx.Close()
	purged, err := idx.Purge([]string{"s:0001", "s:0002", "s:0100"}, nil, t0.AddDate(1, 0, 0))
	if err != nil || len(purged.Ads) == 0 {
		t.Fatalf("purge: %v %v", purged, err)
	}
	ties := 0
	searches := []Search{{Text: "rose"}, {Text: "rose garden"}, {Text: "sweet", City: "Oakland"}, {Text: "new party", City: "San Jose"}, {},
		{Phones: phones[:1]}, {Phones: phones[1:], Text: "rose"}, {PhonePart: "8730123"},
		{Text: "garden", From: t0.AddDate(0, -3, 0), Until: t0.AddDate(0, -1, 0)}, {Category: "youth", MinAge: 17, MaxAge: 20}}
	for _, s := range searches {
		for _, page := range [][2]int{{0, 0}, {5, 0}, {0, 1}, {0, 10}, {7, 13}, {40, 25}, {100, 100}, {0, 1000}, {240, 50}} {
			s.Offset, s.Size, s.Facets = page[0], page[1], true
			got, err := idx.Find(s)
			if err != nil {
				t.Fatal(err)
			}
			req := bleve.NewSearchRequestOptions(s.query(), s.Size, s.Offset, false)
			req.SortBy([]string{"-_score", "_id"})
			req.Fields = []string{"source"}
			for _, f := range facetFields {
				req.AddFacet(f.name, bleve.NewFacetRequest(f.field, allValues))
			}
			want, err := idx.bleve.search(context.Background(), req, s.From, s.Until, s.mayMatch)
			if err != nil {
				t.Fatal(err)
			}
			if s.Size == 0 {
				want.Hits = nil
			}
			wantHits, err := idx.hits(want.Hits)
			if err != nil {
				t.Fatal(err)
			}
			if got.Total != want.Total {
				t.Fatalf("%+v: total %d, bleve %d", s, got.Total, want.Total)
			}
			if diff := cmp.Diff(wantHits, got.Hits); diff != "" {
				t.Fatalf("%+v: hits (-bleve +got):\n%s", s, diff)
			}
			for i, h := range wantHits {
				if i > 0 && h.Score == wantHits[i-1].Score {
					ties++
				}
			}
			if diff := cmp.Diff(facetsOf(want.Facets), got.Facets); diff != "" {
				t.Fatalf("%+v: facets (-bleve +got):\n%s", s, diff)
			}
		}
	}
	if ties < 100 {
		t.Fatalf("only %d ties: the test needs runs of equal scores", ties)
	}
}

// TestSearchFailsWithAShard: a search that a shard fails to answer is an
// error, not the answer of the others.
func TestSearchFailsWithAShard(t *testing.T) {
	t0 := time.Date(2020, 10, 2, 12, 0, 0, 0, time.UTC)
	var ads []record.Ad
	for i := range 6 {
		ads = append(ads, record.Ad{ID: fmt.Sprintf("s:%d", i), Site: "s", City: "Oakland", Title: "rose",
			PostedAt: t0.AddDate(0, -i%3, 0), PageSHA256: fmt.Sprint(i)})
	}
	idx := buildIndex(t, t.TempDir(), ads, len(ads))
	defer idx.Close()
	if f, err := idx.Find(Search{Text: "rose", Size: 10, Facets: true}); err != nil || f.Total != 6 {
		t.Fatalf("before: %d, %v", f.Total, err)
	}
	// The second shard to be searched fails.
	var shards atomic.Int32
	broken := func(*search.SearchContext) (search.DocumentMatchHandler, bool, error) {
		if shards.Add(1) == 2 {
			return nil, false, errors.New("the shard broke")
		}
		return func(*search.DocumentMatch) error { return nil }, false, nil
	}
	ctx := context.WithValue(context.Background(), search.MakeDocumentMatchHandlerKey, search.MakeDocumentMatchHandler(broken))
	req := bleve.NewSearchRequestOptions(Search{Text: "rose"}.query(), 10, 0, false)
	_, err := idx.bleve.search(ctx, req, time.Time{}, time.Time{}, nil)
	if err == nil || !strings.Contains(err.Error(), "the shard broke") {
		t.Fatalf("a failed shard left out: %v", err)
	}
	if shards.Load() < 3 {
		t.Fatalf("%d shards searched: the test needs three", shards.Load())
	}
	t.Log(err)
}

// TestSearchWhileWriting: searches running while ads are written, edited
// and purged each read their page's ads from the snapshot that found
// them: no hit comes back without its ad, whatever is written meanwhile.
func TestSearchWhileWriting(t *testing.T) {
	t0 := time.Date(2020, 10, 2, 12, 0, 0, 0, time.UTC)
	ad := func(i, v int) record.Ad {
		return record.Ad{ID: fmt.Sprintf("s:%03d", i%60), Site: "s", City: "Oakland", Title: fmt.Sprintf("rose %d", v),
			PostedAt: t0.AddDate(0, -(i+v)%4, 0), PageSHA256: fmt.Sprint(i, "-", v)}
	}
	var first []record.Ad
	for i := range 60 {
		first = append(first, ad(i, 0))
	}
	idx := buildIndex(t, t.TempDir(), first, len(first))
	defer idx.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errs := make(chan error, 3)
	var searches atomic.Int64
	for range 2 {
		go func() {
			for ctx.Err() == nil {
				f, err := idx.Find(Search{Text: "rose", Size: 20, Facets: true})
				if err == nil {
					for _, h := range f.Hits {
						if !strings.HasPrefix(h.Title, "rose") {
							err = fmt.Errorf("hit %s came back without its ad: %+v", h.ID, h)
							break
						}
					}
				}
				if err != nil {
					errs <- err
					return
				}
				searches.Add(1)
			}
			errs <- nil
		}()
	}
	for v := 1; v <= 30; v++ {
		var batch []record.Ad
		for i := range 20 {
			batch = append(batch, ad(v*7+i, v))
		}
		if _, err := idx.Put(batch); err != nil {
			t.Fatal(err)
		}
		if v%5 == 0 {
			if _, err := idx.Purge([]string{fmt.Sprintf("s:%03d", v)}, nil, t0.AddDate(1, 0, 0)); err != nil {
				t.Fatal(err)
			}
		}
	}
	cancel()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if searches.Load() < 10 {
		t.Fatalf("only %d searches ran beside the writes", searches.Load())
	}
}
