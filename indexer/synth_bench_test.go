package indexer

import (
	"testing"

	"github.com/adwatch/adwatch/internal/synth"
)

// BenchmarkPhotoLookupsSynth times what linking asks of the photo tables
// for one photo, on the tables of 1M synthetic ads: its hash within the
// threshold (8) of the stored hashes and within 6 of their crop variants,
// and its nine crops within 6 of the stored hashes. The tables are built
// without linking (under a minute).
// go test ./indexer -run '^$' -bench PhotoLookupsSynth -benchtime 20000x
func BenchmarkPhotoLookupsSynth(b *testing.B) {
	gen, err := synth.New(1, nil)
	if err != nil {
		b.Fatal(err)
	}
	const n = 1_000_000
	l := NewLinker(8, 25)
	for i := range n {
		a := gen.Ad(i)
		for _, img := range a.Images {
			if p, ok := parsePhoto(img); ok {
				l.storePhoto(p, int32(i))
			}
		}
	}
	var queries []photo
	for i := n; len(queries) < 20_000; i++ {
		a := gen.Ad(i)
		for _, img := range a.Images {
			if p, ok := parsePhoto(img); ok {
				queries = append(queries, p)
			}
		}
	}
	before := l.work
	k := 0
	for b.Loop() {
		_ = l.nearPhotos(queries[k%len(queries)])
		k++
	}
	b.ReportMetric(float64(l.work.probes-before.probes)/float64(k), "probes/photo")
	b.ReportMetric(float64(l.work.candidates-before.candidates)/float64(k), "candidates/photo")
}
