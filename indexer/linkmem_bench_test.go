package indexer

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/adwatch/adwatch/internal/synth"
)

// BenchmarkLinkerSynth links n synthetic ads (internal/synth, the ads
// adwatch bench links: the simulated world's, round after round) into a
// fresh linker, each followed by its profile's network as the index stage
// asks (and the redirects taken every 256 ads, as the index does after
// each batch), and reports the linker's heap (HeapInuse after a collection, less
// the same before linking) per ad and the time per ad over the last tenth,
// the linker at its fullest. Run it once per size:
//
//	go test ./indexer/ -run '^$' -bench 'LinkerSynth/ads=200000$' -benchtime 1x
//
// With ADWATCH_BENCH_HEAPPROFILE set to a path, it writes there a heap
// profile taken with the linker full (with -memprofilerate 4096 or so for
// the detail; the profiling slows linking).
func BenchmarkLinkerSynth(b *testing.B) {
	if testing.Short() {
		b.Skip("hashes the simulated world's photos and links up to 1M ads")
	}
	gen, err := synth.New(1, nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{20_000, 200_000, 1_000_000} {
		b.Run(fmt.Sprintf("ads=%d", n), func(b *testing.B) {
			for b.Loop() {
				benchLinkSynth(b, gen, n)
			}
		})
	}
}

func benchLinkSynth(b *testing.B, gen *synth.Generator, n int) {
	b.StopTimer()
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	l := NewLinker(8, 25)
	tail := n - n/10
	var start time.Time
	var work workCount
	for i := range n {
		if i == tail {
			b.StartTimer()
			start, work = time.Now(), l.work
		}
		a := gen.Ad(i)
		l.Add(&a)
		if l.Network(l.Profile(a.ID)) == "" {
			b.Fatal("no network")
		}
		if i%256 == 255 {
			l.TakeRedirects() // as the index does after each batch
		}
	}
	took := time.Since(start)
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	tailAds := float64(n - tail)
	b.ReportMetric(float64(took.Microseconds())/tailAds, "µs/ad")
	b.ReportMetric(float64(l.work.probes-work.probes)/tailAds, "probes/ad")
	b.ReportMetric(float64(l.work.candidates-work.candidates)/tailAds, "candidates/ad")
	b.ReportMetric(float64(int64(ms.HeapInuse)-int64(base))/float64(n), "heap-B/ad")
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MB")
	b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "live-MB")
	// The large band-table arrays are outside the heap.
	b.ReportMetric(float64(l.plainBands.tableBytes()+l.variantBands.tableBytes())/(1<<20), "bands-MB")
	// And so are the hashes and their ads.
	b.ReportMetric(float64(l.plainBands.hashBytes()+l.variantBands.hashBytes())/(1<<20), "hashes-MB")
	if path := os.Getenv("ADWATCH_BENCH_HEAPPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.WriteHeapProfile(f); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	runtime.KeepAlive(l)
	b.StartTimer()
}
