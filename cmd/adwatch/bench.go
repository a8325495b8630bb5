package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/corona10/goimagehash"
	"github.com/spf13/cobra"
	xdraw "golang.org/x/image/draw"

	"github.com/adwatch/adwatch/extractor"
	"github.com/adwatch/adwatch/extractor/imagehash"
	"github.com/adwatch/adwatch/extractor/indicator"
	"github.com/adwatch/adwatch/indexer"
	"github.com/adwatch/adwatch/internal/bus"
	"github.com/adwatch/adwatch/internal/record"
	"github.com/adwatch/adwatch/internal/sim"
	"github.com/adwatch/adwatch/internal/synth"
)

func benchCmd(g *globals) *cobra.Command {
	var n int
	var photoTime time.Duration
	var e2e e2eOptions
	var national int
	var keep, memProfile string
	c := &cobra.Command{
		Use:   "bench",
		Short: "Measure the hot paths in one run and print one Markdown table (make bench)",
		Long: "bench measures, in one run and side by side with the plain libraries: decoding and hashing photos " +
			"(adwatch's imagehash beside goimagehash, on one goroutine and on GOMAXPROCS), text-only extraction, generating --ads ads into a scratch " +
			"JetStream and reindexing them, search and phone look-up latencies on that index, linking, resident memory " +
			"and the index's size on disk. Everything happens in a temporary directory. With --e2e it first runs " +
			"adwatch run --once in-process against the simulated site (photo-heavy with 300x400 photos served warm, as issue 11 measured, then " +
			"with the simulator's 96x96 photos drawn on every request, then with its photos taken out) " +
			"beside the plain libraries chained on the same site: a colly crawl, every image downloaded, each " +
			"distinct one decoded and hashed with goimagehash, bleve batches of 1,000.",
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := g.app(cmd)
			if err != nil {
				return err
			}
			b := &bench{n: n, photoTime: photoTime, log: cmd.ErrOrStderr(), verbose: g.verbose, keep: keep, memProfile: memProfile, timeline: e2e.timeline}
			m, err := indicator.LoadDir(a.Config.IndicatorsDir)
			if err != nil {
				return err
			}
			if e2e.on {
				if err := b.endToEnd(cmd.Context(), a.Config, e2e); err != nil {
					return err
				}
			}
			if national > 0 {
				profile := ""
				if !e2e.on {
					profile = e2e.cpuProfile
				}
				if err := b.nationalDay(cmd.Context(), a.Config, national, profile); err != nil {
					return err
				}
			}
			ex := extractor.New(a.Config.Sites, a.Config.Region, m, a.Config.Extract.MaxImagePixels)
			if err := b.run(cmd.Context(), ex, m, a.Config.Linking.PHashThreshold, a.Config.Linking.MaxProfilesPerLink); err != nil {
				return err
			}
			b.print(cmd.OutOrStdout())
			return nil
		},
	}
	c.Flags().IntVar(&n, "ads", 100_000, "ads to generate, index, search and link")
	c.Flags().StringVar(&keep, "keep", "", "keep the generated ads and their index in this directory (laid out as a data directory); when it holds an index already, generate and reindex are skipped and that index is searched and its ads linked")
	c.Flags().DurationVar(&photoTime, "photo-time", 4*time.Second, "how long to hash photos with each library, on one goroutine and again on GOMAXPROCS")
	c.Flags().BoolVar(&e2e.on, "e2e", false, "also measure run --once end to end against the plain libraries chained on the simulated site (minutes)")
	c.Flags().StringVar(&e2e.scenario, "e2e-scenario", "alameda", "the simulated world of --e2e (alameda, small)")
	c.Flags().IntVar(&e2e.rounds, "e2e-rounds", 2, "photo-heavy rounds of --e2e, adwatch and the plain chain in alternating order, on photos of --e2e-photo-size served warm (issue 11's site)")
	c.Flags().StringVar(&e2e.photoSize, "e2e-photo-size", "300x400", "the size of the photos of the --e2e-rounds, WIDTHxHEIGHT: each simulated picture scaled to it, encoded once before the rounds")
	c.Flags().BoolVar(&e2e.timeline, "e2e-timeline", false, "print, every 250 ms of each end-to-end run --once, its CPU use and the pages published, images fetched and hashed, ads extracted and indexed so far")
	c.Flags().IntVar(&e2e.smallRounds, "e2e-small-rounds", 1, "photo-heavy rounds of --e2e on the simulator's own 96x96 photos, drawn and encoded on every request")
	c.Flags().IntVar(&national, "national-day", 0, "also measure the national day on this many ads with three photos each, most reused (written into the streams, then extracted, indexed and alerted), and project 200,000 from it; 0: not measured")
	c.Flags().StringVar(&memProfile, "memprofile", "", "write heap profiles of the live memory as phases end: of the reindex to this file, of serving to it with .serving appended, of the fresh linker with .linking")
	c.Flags().StringVar(&e2e.cpuProfile, "cpuprofile", "", "with --e2e, write a CPU profile of the first photo-heavy run --once to this file; without it, of the --national-day stages")
	return c
}

// bench holds the figures of one run.
type bench struct {
	n         int
	photoTime time.Duration
	log       io.Writer
	// verbose logs the end-to-end runs' progress (-v).
	verbose bool
	// timeline prints, every 250 ms of each end-to-end run --once, its
	// CPU use and the stages' counters (--e2e-timeline).
	timeline bool
	// keep is the directory of the corpus and its index, kept after the
	// run and reused by the next; empty: a temporary one.
	keep string
	// memProfile is where heap profiles of the reindex, serving and
	// linking phases go (--memprofile); empty: none.
	memProfile string
	rows       [][4]string // figure, value, target, note
}

func (b *bench) add(figure, value, target, note string) {
	b.rows = append(b.rows, [4]string{figure, value, target, note})
	fmt.Fprintf(b.log, "bench: %s: %s\n", figure, value)
}

func (b *bench) print(w io.Writer) {
	fmt.Fprintf(w, "| figure | measured | target | note |\n| --- | ---: | ---: | --- |\n")
	for _, r := range b.rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", r[0], r[1], r[2], r[3])
	}
	limit := "no memory limit"
	if l := debug.SetMemoryLimit(-1); l < math.MaxInt64 {
		limit = fmt.Sprintf("GOMEMLIMIT %d MiB", l>>20)
	}
	fmt.Fprintf(w, "\n%d ads; %s, GOMAXPROCS %d, %s, %s.\n", b.n, runtime.Version(), runtime.GOMAXPROCS(0), runtime.GOARCH, limit)
}

func (b *bench) run(ctx context.Context, ex *extractor.Extractor, m *indicator.Matcher, threshold, maxLink int) error {
	if err := b.photos(); err != nil {
		return err
	}
	if err := b.extraction(ex); err != nil {
		return err
	}
	dir := b.keep
	if dir == "" {
		tmp, err := os.MkdirTemp("", "adwatch-bench-")
		if err != nil {
			return fmt.Errorf("creating the bench directory: %w", err)
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	} else if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("creating the bench directory: %w", err)
	}
	gen, err := synth.New(1, m)
	if err != nil {
		return err
	}
	var peak peaks
	if _, err := os.Stat(filepath.Join(dir, "index.bleve")); err == nil && b.keep != "" {
		fmt.Fprintf(b.log, "bench: %s holds an index: generate and reindex skipped\n", dir)
	} else {
		idx, err := b.indexing(ctx, dir, gen, threshold, maxLink)
		if err != nil {
			return err
		}
		if err := idx.Close(); err != nil {
			return fmt.Errorf("closing the index: %w", err)
		}
		peak.add(b, "resident memory, generate and reindex", "the embedded NATS server and the index being built")
	}
	// The index opened anew, as a restart of adwatch run or serve opens
	// it, and searched: what a process serving the corpus holds.
	peak.reset()
	start := time.Now()
	idx, err := indexer.Open(dir, threshold, maxLink, false)
	if err != nil {
		return err
	}
	count, err := idx.Count()
	if err != nil {
		idx.Close()
		return err
	}
	b.n = int(count)
	b.add("opening the index (a restart)", ms(time.Since(start)), "serving within 30 s at 1M ads",
		fmt.Sprintf("%d ads, the linker's state read back", count))
	if err := b.searches(idx, gen, int(count)); err != nil {
		idx.Close()
		return err
	}
	peak.add(b, "resident memory, serving", "the index opened and searched")
	if err := b.heapProfile(".serving"); err != nil {
		idx.Close()
		return err
	}
	if err := idx.Close(); err != nil {
		return fmt.Errorf("closing the index: %w", err)
	}
	if err := b.readCommands(dir, threshold, maxLink); err != nil {
		return err
	}
	peak.reset()
	b.linking(gen, threshold, maxLink, int(count))
	peak.add(b, "resident memory, linking", "a fresh linker of every ad")
	b.add("resident memory, peak", fmt.Sprintf("%.0f MB", float64(peak.max)/(1<<20)), "< 2 GB at 1M ads",
		"the largest of the above")
	return nil
}

// peaks measures the process's peak resident memory a phase at a time.
type peaks struct{ max int64 }

// reset returns freed memory to the system and starts a new peak (Linux:
// /proc/self/clear_refs). Without it, the next phase's peak includes the
// earlier phases'.
func (p *peaks) reset() {
	runtime.GC()
	debug.FreeOSMemory()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// add reports the peak since the last reset as figure, and what is
// resident at the end of the phase split into the process's own memory
// (anonymous: the heap, the band tables) and pages of files it maps (the
// index's segments, the linker's state), which the kernel can drop and
// read again.
func (p *peaks) add(b *bench, figure, note string) {
	kb := vmHWM()
	p.max = max(p.max, kb<<10)
	value := "unknown"
	if kb > 0 {
		value = fmt.Sprintf("%.0f MB", float64(kb)/1024)
	}
	note += " (VmHWM"
	if anon, file := statusKB("RssAnon:"), statusKB("RssFile:"); anon > 0 {
		note += fmt.Sprintf("; at the end %.0f MB anonymous, %.0f MB of mapped files", float64(anon)/1024, float64(file)/1024)
	}
	b.add(figure, value, "", note+")")
}

// photos hashes the same 300x400 JPEGs with adwatch and with plain
// goimagehash, in alternating turns so that both meet the same load: on one
// goroutine, then on GOMAXPROCS goroutines each hashing whole photos (the
// throughput of the machine's cores, as the extract stages use them).
func (b *bench) photos() error {
	var photos [][]byte
	for i := range 32 {
		img := image.NewRGBA(image.Rect(0, 0, 300, 400))
		xdraw.CatmullRom.Scale(img, img.Bounds(), sim.Picture(7, i), sim.Picture(7, i).Bounds(), xdraw.Src, nil)
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85}); err != nil {
			return fmt.Errorf("encoding a photo: %w", err)
		}
		photos = append(photos, buf.Bytes())
	}
	ours := func(p []byte) error {
		_, err := imagehash.Hash(p, 1<<24)
		return err
	}
	theirs := func(p []byte) error {
		img, err := jpeg.Decode(bytes.NewReader(p))
		if err != nil {
			return fmt.Errorf("decoding a photo: %w", err)
		}
		_ = record.SHA256Hex(p)
		if _, err := goimagehash.PerceptionHash(img); err != nil {
			return fmt.Errorf("goimagehash: %w", err)
		}
		return nil
	}
	workers := runtime.GOMAXPROCS(0)
	for i, n := range []int{1, workers} {
		o, t, err := b.alternate(photos, n, ours, theirs)
		if err != nil {
			return err
		}
		figure, note := "decode + hash, 300x400 JPEG (SHA-256, pHash, 9 crops)", "goimagehash (decode, SHA-256, one pHash)"
		if i > 0 {
			figure = fmt.Sprintf("decode + hash on %d goroutines, 300x400 JPEG (SHA-256, pHash, 9 crops)", n)
			note = fmt.Sprintf("goimagehash on %d goroutines", n)
		}
		b.add(figure, fmt.Sprintf("%.0f photos/s", o), ">= 400 photos/s",
			fmt.Sprintf("%s in the same run: %.0f photos/s; ratio %.2f", note, t, o/t))
	}
	return nil
}

// alternate hashes photos with ours, then with theirs, turn after turn on
// the given number of goroutines, until each has had b.photoTime, and
// returns the photos per second of each.
func (b *bench) alternate(photos [][]byte, goroutines int, ours, theirs func([]byte) error) (o, t float64, err error) {
	var dOurs, dTheirs time.Duration
	var nOurs, nTheirs int
	for dOurs+dTheirs < 2*b.photoTime {
		start := time.Now()
		if err := hashAll(photos, goroutines, ours); err != nil {
			return 0, 0, err
		}
		dOurs += time.Since(start)
		nOurs += len(photos)
		start = time.Now()
		if err := hashAll(photos, goroutines, theirs); err != nil {
			return 0, 0, err
		}
		dTheirs += time.Since(start)
		nTheirs += len(photos)
	}
	return float64(nOurs) / dOurs.Seconds(), float64(nTheirs) / dTheirs.Seconds(), nil
}

// hashAll hashes every photo on the given number of goroutines, each
// taking the next photo not yet taken.
func hashAll(photos [][]byte, goroutines int, hash func([]byte) error) error {
	var next atomic.Int64
	errs := make([]error, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(len(photos)); i = next.Add(1) - 1 {
				if err := hash(photos[i]); err != nil {
					errs[g] = err
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// extraction extracts the simulated site's ad pages without their photos.
func (b *bench) extraction(ex *extractor.Extractor) error {
	w, err := sim.Generate(1, "small")
	if err != nil {
		return err
	}
	srv := sim.NewServer(w)
	var pages []record.Page
	for _, a := range w.Ads {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest("GET", sim.AdPath(a), nil))
		if rec.Code == 429 { // the simulator's test of manners: once per such ad
			rec = httptest.NewRecorder()
			srv.ServeHTTP(rec, httptest.NewRequest("GET", sim.AdPath(a), nil))
		}
		if rec.Code != 200 {
			return fmt.Errorf("the simulator served %s with %d", sim.AdPath(a), rec.Code)
		}
		html := rec.Body.Bytes()
		pages = append(pages, record.Page{Site: sim.SiteOf(a.City), URL: "http://127.0.0.1" + sim.AdPath(a),
			FetchedAt: time.Now(), SHA256: record.SHA256Hex(html), HTML: html})
	}
	var n int
	start := time.Now()
	for time.Since(start) < b.photoTime {
		for i := range pages {
			a, err := ex.Extract(&pages[i], nil)
			if err != nil {
				return err
			}
			if a.ID == "" {
				return fmt.Errorf("page %s gave no ad", pages[i].URL)
			}
			n++
		}
	}
	b.add("text-only extraction", fmt.Sprintf("%.0f ads/s", float64(n)/time.Since(start).Seconds()), ">= 1,000 ads/s end to end",
		fmt.Sprintf("extractor.Extract on the simulator's %d pages, one goroutine", len(pages)))
	return nil
}

// indexing writes the ads into a scratch JetStream as adwatch generate does
// and rebuilds an index from it as adwatch reindex does.
func (b *bench) indexing(ctx context.Context, dir string, gen *synth.Generator, threshold, maxLink int) (*indexer.Index, error) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ns, err := bus.Embedded(dir, false, "", quiet) // dir/nats, as a data directory has it
	if err != nil {
		return nil, err
	}
	defer ns.Shutdown()
	bu, err := bus.Connect(ctx, ns.ClientURL(), 1, bus.Credentials{})
	if err != nil {
		return nil, err
	}
	defer bu.Close()
	start := time.Now()
	if err := synth.Publish(ctx, bu.JS, gen, b.n, func(done int) {
		fmt.Fprintf(b.log, "bench: generate: %d of %d ads\n", done, b.n)
	}); err != nil {
		return nil, err
	}
	b.add("generate (adwatch generate)", fmt.Sprintf("%.0f ads/s", float64(b.n)/time.Since(start).Seconds()), "—",
		"synthetic extracted ads into the ads stream")
	idx, err := indexer.Open(dir, threshold, maxLink, false)
	if err != nil {
		return nil, err
	}
	start = time.Now()
	last := time.Now()
	n, _, err := indexer.Rebuild(ctx, bu.JS, idx, func(read, total uint64) {
		if time.Since(last) >= 5*time.Second {
			last = time.Now()
			fmt.Fprintf(b.log, "bench: reindex: %d of %d ads, %.0f/s\n", read, total, float64(read)/time.Since(start).Seconds())
		}
	})
	if err != nil {
		idx.Close()
		return nil, err
	}
	took := time.Since(start)
	if err := b.heapProfile(""); err != nil {
		idx.Close()
		return nil, err
	}
	cstart := time.Now()
	done, err := idx.CompactShardsBefore(ctx, cstart)
	if err != nil {
		idx.Close()
		return nil, err
	}
	b.add("compacting the months that are over", fmt.Sprintf("%.1f s", time.Since(cstart).Seconds()), "reported",
		fmt.Sprintf("%d monthly shards merged into one file each, as adwatch reindex does after indexing", len(done)))
	b.add("indexing (adwatch reindex)", fmt.Sprintf("%.0f ads/s", float64(n)/took.Seconds()), ">= 3,000 ads/s",
		fmt.Sprintf("%d ads in %v, linking included", n, took.Round(time.Second)))
	b.add("index size on disk", du(filepath.Join(dir, "index.bleve")), "reported", fmt.Sprintf("%d ads", n))
	return idx, nil
}

// searches times word searches with every facet, and phone look-ups by
// the last seven digits.
func (b *bench) searches(idx *indexer.Index, gen *synth.Generator, n int) error {
	words := []string{"companion", "new", "visiting", "sweet", "discreet", "upscale", "available", "town"}
	var lat []time.Duration
	for i := range 200 {
		start := time.Now()
		_, err := idx.Find(indexer.Search{Text: words[i%len(words)], City: sim.Cities[i%len(sim.Cities)], Size: 50, Facets: true})
		lat = append(lat, time.Since(start))
		if err != nil {
			return err
		}
	}
	p50, p95 := percentiles(lat)
	b.add("search, a word in a city with every facet", fmt.Sprintf("p50 %s, p95 %s", ms(p50), ms(p95)), "p95 < 100 ms at 1M ads", "200 searches")
	lat = lat[:0]
	var found int
	for i := range 500 {
		a := gen.Ad((i * 7919) % max(n, 1))
		if len(a.Phones) == 0 {
			continue
		}
		p := a.Phones[0].E164
		start := time.Now()
		f, err := idx.Find(indexer.Search{PhonePart: p[len(p)-7:], Size: 50})
		lat = append(lat, time.Since(start))
		if err != nil {
			return err
		}
		if f.Total > 0 {
			found++
		}
	}
	p50, p95 = percentiles(lat)
	b.add("phone look-up, last seven digits", fmt.Sprintf("p50 %s, p95 %s", ms(p50), ms(p95)), "< 5 ms at 1M ads",
		fmt.Sprintf("%d look-ups, %d found", len(lat), found))
	return nil
}

// linking links the ads into a fresh linker, as the index stage does,
// and reports the mean over the last tenth (the linker at its fullest).
func (b *bench) linking(gen *synth.Generator, threshold, maxLink, n int) {
	l := indexer.NewLinker(threshold, maxLink)
	tail := n - n/10
	var start time.Time
	for i := range n {
		if i == tail {
			start = time.Now()
		}
		a := gen.Ad(i)
		l.Add(&a)
		_ = l.Network(l.Profile(a.ID))
		if i%256 == 255 {
			// The index takes the redirects made after each batch.
			l.TakeRedirects()
		}
	}
	per := time.Since(start) / time.Duration(max(n-tail, 1))
	if err := b.heapProfile(".linking"); err != nil {
		fmt.Fprintf(b.log, "bench: %v\n", err)
	}
	runtime.KeepAlive(l)
	b.add("linking an ad", fmt.Sprintf("%.0f µs/ad", float64(per.Nanoseconds())/1000), "< 200 µs at 1M ads",
		fmt.Sprintf("the last %d of %d ads, with its profile's network", n-tail, n))
}

func percentiles(d []time.Duration) (p50, p95 time.Duration) {
	if len(d) == 0 {
		return 0, 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2], s[len(s)*95/100]
}

// readCommands times what adwatch snapshot and adwatch profile do: open the
// index read-only, as a new process, and count one city's day or show one
// profile; the median of three fresh opens each.
func (b *bench) readCommands(dir string, threshold, maxLink int) error {
	x, err := indexer.Open(dir, threshold, maxLink, true)
	if err != nil {
		return err
	}
	f, err := x.Find(indexer.Search{Size: 1})
	var ad record.Ad
	if err == nil && len(f.Hits) > 0 {
		var found bool
		ad, found, err = x.Get(f.Hits[0].ID)
		if err == nil && !found {
			err = fmt.Errorf("ad %s not found", f.Hits[0].ID)
		}
	}
	if err == nil && len(f.Hits) == 0 {
		err = errors.New("no ad indexed")
	}
	if err != nil {
		x.Close()
		return fmt.Errorf("choosing an ad for the read commands: %w", err)
	}
	profile := x.Linker.Profile(ad.ID)
	if err := x.Close(); err != nil {
		return err
	}
	day := time.Date(ad.PostedAt.Year(), ad.PostedAt.Month(), ad.PostedAt.Day(), 0, 0, 0, 0, time.UTC)
	var counted indexer.Counts
	var shown int
	median3 := func(ask func(x *indexer.Index) error) (time.Duration, error) {
		var took []time.Duration
		for range 3 {
			start := time.Now()
			x, err := indexer.Open(dir, threshold, maxLink, true)
			if err != nil {
				return 0, err
			}
			err = ask(x)
			took = append(took, time.Since(start))
			if cerr := x.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return 0, err
			}
		}
		slices.Sort(took)
		return took[1], nil
	}
	snap, err := median3(func(x *indexer.Index) (err error) {
		counted, err = x.CountPosted(ad.City, day, day.AddDate(0, 0, 1))
		return err
	})
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	view, err := median3(func(x *indexer.Index) error {
		v, ok, err := x.Profile(profile)
		if err == nil && !ok {
			err = fmt.Errorf("profile %s not found", profile)
		}
		shown = len(v.Ads)
		return err
	})
	if err != nil {
		return fmt.Errorf("profile view: %w", err)
	}
	b.add("snapshot (adwatch snapshot)", ms(snap), "< 1 s at 1M ads",
		fmt.Sprintf("a read-only open and one city's day (%d ads, %d profiles); median of 3", counted.Ads, counted.Profiles))
	b.add("profile view (adwatch profile)", ms(view), "< 1 s at 1M ads",
		fmt.Sprintf("a read-only open and one profile of %d ads, with who shares its identifiers; median of 3", shown))
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

// du is the size of the files under dir.
func du(dir string) string {
	var total int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				total += info.Size()
			}
		}
		return nil
	})
	return fmt.Sprintf("%.1f MB", float64(total)/1e6)
}

// vmHWM is the process's peak resident set size in kB, from /proc; 0 when
// unknown.
func vmHWM() int64 { return statusKB("VmHWM:") }

// statusKB is the field of /proc/self/status named by key, in kB; 0 when
// unknown.
func statusKB(key string) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, key); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err == nil {
				return kb
			}
		}
	}
	return 0
}

// heapProfile writes a profile of the live heap, after a collection, to
// --memprofile with suffix appended; without --memprofile it does nothing.
func (b *bench) heapProfile(suffix string) error {
	if b.memProfile == "" {
		return nil
	}
	f, err := os.Create(b.memProfile + suffix)
	if err != nil {
		return fmt.Errorf("creating the heap profile: %w", err)
	}
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return fmt.Errorf("writing the heap profile: %w", err)
	}
	return f.Close()
}
