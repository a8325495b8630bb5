package indexer

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// benchPutAds is how many ads BenchmarkIndexPut indexes.
const benchPutAds = 20_000

// benchBatch is the batch size BenchmarkIndexPut puts.
var benchBatch = 1000

// BenchmarkIndexPut indexes and links generated ads in the indexer stage's
// batches (256 ads, each batch then published), and reports the rate.
func BenchmarkIndexPut(b *testing.B) {
	if testing.Short() {
		b.Skip("indexes 20k ads")
	}
	n := benchPutAds
	ads, _ := benchAds(n)
	for b.Loop() {
		b.StopTimer()
		x, err := Open(b.TempDir(), 8, 25, false)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		for i := 0; i < n; i += benchBatch {
			if _, err := x.Put(ads[i:min(i+benchBatch, n)]); err != nil {
				b.Fatal(err)
			}
			if err := x.Published(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "ads/s")
		b.StopTimer()
		x.Close()
		b.StartTimer()
	}
}

// BenchmarkOpen opens, read-only, an index of n ads and asks one profile,
// as adwatch snapshot and profile do: with the linker's saved state, and
// without it (every ad linked anew).
func BenchmarkOpen(b *testing.B) {
	if testing.Short() {
		b.Skip("indexes 50k ads")
	}
	const n = 50_000
	dir := b.TempDir()
	x, err := Open(dir, 8, 25, false)
	if err != nil {
		b.Fatal(err)
	}
	ads, _ := benchAds(n)
	for i := 0; i < n; i += 5000 {
		if _, err := x.Put(ads[i : i+5000]); err != nil {
			b.Fatal(err)
		}
	}
	if err := x.Close(); err != nil {
		b.Fatal(err)
	}
	state := filepath.Join(dir, "index.bleve", stateFile)
	saved, err := os.ReadFile(state)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%d ads: state file %d bytes", n, len(saved))
	for _, withState := range []bool{true, false} {
		b.Run(fmt.Sprintf("ads=%d/state=%v", n, withState), func(b *testing.B) {
			if withState {
				err = os.WriteFile(state, saved, 0o600)
			} else {
				err = os.Remove(state)
			}
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				y, err := Open(dir, 8, 25, true)
				if err != nil {
					b.Fatal(err)
				}
				if p := y.Linker.Profile(ads[n/2].ID); y.Linker.Network(p) == "" {
					b.Fatal("no network")
				}
				y.Close()
			}
		})
	}
}
