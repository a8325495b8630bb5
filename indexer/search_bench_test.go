package indexer

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/adwatch/adwatch/internal/record"
)

// benchAds generates n ads: one phone per five ads, 20 cities, 3 sites,
// ages 16 to 40, an indicator on a third of them, two years of posts.
func benchAds(n int) ([]record.Ad, []string) {
	r := rand.New(rand.NewPCG(1, 2))
	words := []string{"sweet", "company", "new", "town", "friendly", "discreet", "relaxing", "kind", "smile", "fun", "young", "visiting"}
	cats := []string{"youth", "movement", "third_party", "restricted", "risky", "stated_ethnicity"}
	t0 := time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)
	phones := make([]string, n/5+1)
	for i := range phones {
		phones[i] = fmt.Sprintf("+1%03d%07d", 200+r.IntN(700), r.IntN(10_000_000))
	}
	ads := make([]record.Ad, n)
	for i := range ads {
		body := make([]string, 0, 12)
		for range 12 {
			body = append(body, words[r.IntN(len(words))])
		}
		a := record.Ad{
			ID: fmt.Sprintf("s%d:%d", i%3, i), Site: fmt.Sprintf("s%d", i%3), City: fmt.Sprintf("City %d", r.IntN(20)),
			PostedAt: t0.Add(time.Duration(r.IntN(2*365*24)) * time.Hour), Title: words[r.IntN(len(words))] + " " + words[r.IntN(len(words))],
			Body: fmt.Sprint(body), Poster: fmt.Sprintf("name%d", r.IntN(n/4+1)), PageSHA256: fmt.Sprint(i),
			Phones: []record.Phone{{E164: phones[r.IntN(len(phones))]}}, Ages: []int{16 + r.IntN(25)},
		}
		if r.IntN(3) == 0 {
			a.Indicators = []record.Indicator{{Category: cats[r.IntN(len(cats))], Term: "t"}}
		}
		ads[i] = a
	}
	return ads, phones
}

// benchIndex indexes n generated ads in batches of 5,000.
func benchIndex(b *testing.B, n int) (*Index, []string) {
	b.Helper()
	if testing.Short() {
		b.Skip("indexes 100k ads")
	}
	idx, err := Open(b.TempDir(), 8, 25, false)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { idx.Close() })
	ads, phones := benchAds(n)
	start := time.Now()
	for i := 0; i < len(ads); i += 5000 {
		if _, err := idx.Put(ads[i:min(i+5000, len(ads))]); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("indexed %d ads in %v", n, time.Since(start).Round(time.Millisecond))
	return idx, phones
}

// reportLatency reports the median and 95th percentile of d.
func reportLatency(b *testing.B, d []time.Duration) {
	slices.Sort(d)
	if len(d) == 0 {
		return
	}
	b.ReportMetric(float64(d[len(d)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(d[len(d)*95/100].Microseconds()), "p95-µs")
}

// BenchmarkSearchFacets: a word search in one city with every facet, at
// 100k ads.
func BenchmarkSearchFacets(b *testing.B) {
	idx, _ := benchIndex(b, 100_000)
	var lat []time.Duration
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		t := time.Now()
		f, err := idx.Find(Search{Text: "discreet", City: fmt.Sprintf("City %d", i%20), Size: 50, Facets: true})
		lat = append(lat, time.Since(t))
		if err != nil || f.Total == 0 || f.Facets == nil {
			b.Fatalf("%v, %d ads", err, f.Total)
		}
		i++
	}
	reportLatency(b, lat)
}

// BenchmarkPhoneLookup: the last seven digits of a number, at 100k ads.
func BenchmarkPhoneLookup(b *testing.B) {
	idx, phones := benchIndex(b, 100_000)
	var lat []time.Duration
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		p := phones[(i*7919)%len(phones)]
		t := time.Now()
		_, err := idx.Find(Search{PhonePart: p[len(p)-7:], Size: 50})
		lat = append(lat, time.Since(t))
		if err != nil {
			b.Fatal(err)
		}
		i++
	}
	reportLatency(b, lat)
}

// BenchmarkShards: the same searches of the same 50k ads (two years of
// posts) in one index and in monthly shards, in turns: a word in a city
// with every facet, the last seven digits of a phone, and a word in one
// month.
func BenchmarkShards(b *testing.B) {
	if testing.Short() {
		b.Skip("indexes 50k ads twice")
	}
	ads, phones := benchAds(50_000)
	one, err := Open(legacyDir(b, ads), 8, 25, false)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { one.Close() })
	sharded, err := Open(b.TempDir(), 8, 25, false)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { sharded.Close() })
	for i := 0; i < len(ads); i += 5000 {
		if _, err := sharded.Put(ads[i:min(i+5000, len(ads))]); err != nil {
			b.Fatal(err)
		}
	}
	month := time.Date(2020, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		s    func(i int) Search
	}{
		{"facets", func(i int) Search {
			return Search{Text: "discreet", City: fmt.Sprintf("City %d", i%20), Size: 50, Facets: true}
		}},
		{"phone", func(i int) Search { p := phones[i%len(phones)]; return Search{PhonePart: p[len(p)-7:], Size: 50} }},
		{"month", func(i int) Search {
			return Search{Text: "kind", From: month.AddDate(0, i%12, 0), Until: month.AddDate(0, i%12+1, 0), Size: 50, Facets: true}
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var lat [2][]time.Duration
			for i := 0; b.Loop(); i++ {
				for k, x := range []*Index{one, sharded} {
					start := time.Now()
					if _, err := x.Find(tc.s(i)); err != nil {
						b.Fatal(err)
					}
					lat[k] = append(lat[k], time.Since(start))
				}
			}
			for k, name := range []string{"one", "shards"} {
				slices.Sort(lat[k])
				b.ReportMetric(float64(lat[k][len(lat[k])/2].Microseconds()), name+"-p50-µs")
				b.ReportMetric(float64(lat[k][len(lat[k])*95/100].Microseconds()), name+"-p95-µs")
			}
		})
	}
}
