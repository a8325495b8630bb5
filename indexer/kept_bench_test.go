package indexer

import (
	"os"
	"testing"
	"time"
)

// BenchmarkKeptSearch runs the bench's searches (a word in a city, every
// facet) on an index kept by adwatch bench --keep: ADWATCH_BENCH_DATA
// names its data directory. Skipped without it. With -cpuprofile it shows
// where a search at 1M spends its time.
func BenchmarkKeptSearch(b *testing.B) {
	dir := os.Getenv("ADWATCH_BENCH_DATA")
	if dir == "" {
		b.Skip("ADWATCH_BENCH_DATA names no kept index")
	}
	idx, err := Open(dir, 8, 25, true)
	if err != nil {
		b.Fatal(err)
	}
	defer idx.Close()
	// As cmd/adwatch/bench.go's searches: its words, and sim.Cities.
	words := []string{"companion", "new", "visiting", "sweet", "discreet", "upscale", "available", "town"}
	cities := []string{"Oakland", "San Francisco", "San Jose", "Sacramento"}
	var lat []time.Duration
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		f, err := idx.Find(Search{Text: words[i%len(words)], City: cities[i%len(cities)], Size: 50, Facets: true})
		lat = append(lat, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
		if i == 0 {
			b.Logf("%d matches", f.Total)
		}
	}
	reportLatency(b, lat)
}
