package main

import (
	"context"
	"fmt"
	"image"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/adwatch/adwatch/internal/app"
	"github.com/adwatch/adwatch/internal/baseline"
	"github.com/adwatch/adwatch/internal/config"
	"github.com/adwatch/adwatch/internal/sim"
)

// e2eOptions are the flags of bench's end-to-end rows.
type e2eOptions struct {
	on       bool
	scenario string
	// rounds are the photo-heavy rounds on the site as issue 11 measured
	// it: photos of photoSize, served warm.
	rounds    int
	photoSize string
	// smallRounds are the photo-heavy rounds on the simulator's own
	// 96x96 photos, drawn and encoded on every request.
	smallRounds int
	cpuProfile  string
	timeline    bool
}

// photoSite is one way the simulator serves a world's photos.
type photoSite struct {
	// name is the rows' prefix; about says how the photos are served.
	name, about string
	photos      *sim.Photos // nil: 96x96, drawn per request
	rounds      int
}

// parseSize parses "300x400" (width x height).
func parseSize(s string) (image.Point, error) {
	var p image.Point
	if n, err := fmt.Sscanf(s, "%dx%d", &p.X, &p.Y); err != nil || n != 2 || fmt.Sprintf("%dx%d", p.X, p.Y) != s ||
		p.X < 16 || p.Y < 16 || p.X > 4000 || p.Y > 4000 {
		return p, fmt.Errorf("photo size %q: want WIDTHxHEIGHT, each 16 to 4000", s)
	}
	return p, nil
}

// simSite is the simulator's three sites as the plain chain crawls them:
// the links each site's configs/sites file allows, and the selectors of
// its fields.
func simSite(base string) baseline.Site {
	re := regexp.MustCompile
	return baseline.Site{
		Base:   base,
		Starts: []string{"/", "/ec/"},
		Follow: []*regexp.Regexp{re(`^/$`), re(`^/c/[a-z-]+/(\?page=\d+)?$`), re(`^/ad/\d+\.html$`),
			re(`^/old/[a-z-]+/(\?p=\d+)?$`), re(`^/old/post/\d+$`),
			re(`^/ec/$`), re(`^/ec/[a-z-]+/(\?pagina=\d+)?$`), re(`^/ec/anuncio/\d+$`)},
		Avoid: []*regexp.Regexp{re(`^/c/archive/`)},
		Layouts: []baseline.Layout{
			{AdPage: re(`^/ad/\d+\.html$`), Title: "h1.title", Body: "div.body", City: ".meta .city", Poster: ".meta .poster",
				Phone: ".contact .phone", Images: ".gallery img", ImageAttr: "src"},
			{AdPage: re(`^/old/post/\d+$`), Title: "td.posting h2", Body: "#postingbody", City: "ul.crumbs li:last-child",
				Poster: "td.name", Images: "a.thumb", ImageAttr: "href"},
			{AdPage: re(`^/ec/anuncio/\d+$`), Title: "#anuncio h2.titulo", Body: "#anuncio div.texto", City: "ul.datos li.ciudad",
				Poster: "ul.datos li.nombre", Phone: "p.contacto b.telefono", Images: "div.fotos img", ImageAttr: "src"},
		},
		Parallelism: 8, // the sites' parallelism in configs/sites
		Retries:     4,
	}
}

// e2eRun is what one adwatch run --once did.
type e2eRun struct {
	took, cpu            time.Duration
	published, images    float64
	hashed, cachedImages float64
}

// endToEnd runs adwatch run --once and the plain chain on the same
// simulated site, each against a fresh simulator (which answers 429 the
// first time some ads are asked for), in alternating order from round to
// round; then both on the same world with its photos taken out. With
// o.rounds 0 it runs the text-only pair alone, the CPU profile (if any)
// taken of its run --once.
func (b *bench) endToEnd(ctx context.Context, cfg config.Config, o e2eOptions) error {
	w, err := sim.Generate(1, o.scenario)
	if err != nil {
		return err
	}
	text := *w
	text.Ads = slices.Clone(w.Ads)
	photos := 0
	for i := range text.Ads {
		photos += len(text.Ads[i].Photos)
		text.Ads[i].Photos = nil
	}
	dir, err := os.MkdirTemp("", "adwatch-bench-e2e-")
	if err != nil {
		return fmt.Errorf("creating the bench directory: %w", err)
	}
	defer os.RemoveAll(dir)

	var sites []photoSite
	if o.rounds > 0 {
		size, err := parseSize(o.photoSize)
		if err != nil {
			return err
		}
		ph := sim.NewPhotos(size)
		start := time.Now()
		n, bytes, err := ph.Warm(w)
		if err != nil {
			return err
		}
		fmt.Fprintf(b.log, "bench: %d photos of %s encoded ahead (%.0f MB) in %v\n", n, o.photoSize, float64(bytes)/1e6, time.Since(start).Round(time.Millisecond))
		about := fmt.Sprintf("photos of %s served warm (encoded once, ahead", o.photoSize)
		if n > 0 {
			about += fmt.Sprintf(", %.0f kB each on average", float64(bytes)/float64(n)/1e3)
		}
		sites = append(sites, photoSite{name: "end to end, photo-heavy", photos: ph, rounds: o.rounds, about: about + ")"})
	}
	if o.smallRounds > 0 {
		sites = append(sites, photoSite{name: "end to end, photo-heavy, 96x96 drawn per request", rounds: o.smallRounds,
			about: "the simulator's 96x96 photos, each drawn and encoded on every request"})
	}
	for i, site := range sites {
		if err := b.photoHeavy(ctx, cfg, w, photos, filepath.Join(dir, fmt.Sprintf("site-%d", i)), o.cpuProfile, site); err != nil {
			return err
		}
		o.cpuProfile = "" // the first photo-heavy run alone is profiled
	}
	textProfile := ""
	if len(sites) == 0 {
		textProfile = o.cpuProfile
	}
	r, err := b.runOnce(ctx, cfg, &text, nil, filepath.Join(dir, "adwatch-text"), textProfile)
	if err != nil {
		return err
	}
	p, pcpu, err := b.runPlain(ctx, &text, nil, filepath.Join(dir, "plain-text.bleve"))
	if err != nil {
		return err
	}
	b.add("end to end, text-only: adwatch run --once", fmt.Sprintf("%.0f ads/s", float64(len(text.Ads))/r.took.Seconds()), ">= 1,000 ads/s",
		fmt.Sprintf("%d ads (%.0f published) in %v, CPU %v; plain chain (colly crawl %v, bleve %v) %v, CPU %v, ratio %.2f", len(text.Ads), r.published,
			r.took.Round(100*time.Millisecond), r.cpu.Round(100*time.Millisecond), p.Crawl.Round(100*time.Millisecond), p.Index.Round(100*time.Millisecond),
			p.Total().Round(100*time.Millisecond), pcpu.Round(100*time.Millisecond), p.Total().Seconds()/r.took.Seconds()))
	return nil
}

// photoHeavy runs site.rounds rounds of adwatch run --once and the plain
// chain on w served as site says, in alternating order, and adds their
// rows; the first run --once under a CPU profile written to cpuProfile,
// if set.
func (b *bench) photoHeavy(ctx context.Context, cfg config.Config, w *sim.World, photos int, dir, cpuProfile string, site photoSite) error {
	var ours, theirs, ourCPU, theirCPU time.Duration
	var last e2eRun
	var sum baseline.Result
	for round := range site.rounds {
		runOurs := func() error {
			profile := ""
			if round == 0 {
				profile = cpuProfile
			}
			r, err := b.runOnce(ctx, cfg, w, site.photos, filepath.Join(dir, fmt.Sprintf("adwatch-%d", round)), profile)
			if err != nil {
				return err
			}
			ours += r.took
			ourCPU += r.cpu
			last = r
			return nil
		}
		runTheirs := func() error {
			r, cpu, err := b.runPlain(ctx, w, site.photos, filepath.Join(dir, fmt.Sprintf("plain-%d.bleve", round)))
			if err != nil {
				return err
			}
			theirs += r.Total()
			theirCPU += cpu
			sum.Crawl += r.Crawl
			sum.Download += r.Download
			sum.Hash += r.Hash
			sum.Index += r.Index
			sum.Ads, sum.Images, sum.Distinct, sum.Failed = r.Ads, r.Images, r.Distinct, r.Failed
			return nil
		}
		first, second := runOurs, runTheirs
		if round%2 == 1 {
			first, second = runTheirs, runOurs
		}
		if err := first(); err != nil {
			return err
		}
		if err := second(); err != nil {
			return err
		}
	}
	n := float64(site.rounds)
	ourMean, theirMean := ours/time.Duration(n), theirs/time.Duration(n)
	b.add(site.name+": adwatch run --once", fmt.Sprintf("%.0f ads/s, %.0f photos/s", float64(len(w.Ads))/ourMean.Seconds(),
		float64(photos)/ourMean.Seconds()), "—",
		fmt.Sprintf("%d ads, %d photos (%.0f published, %.0f downloaded, %.0f hashed, %.0f from the hash cache) in %v, CPU %v; mean of %d; %s",
			len(w.Ads), photos, last.published, last.images, last.hashed, last.cachedImages, ourMean.Round(100*time.Millisecond),
			(ourCPU/time.Duration(n)).Round(100*time.Millisecond), int(n), site.about))
	b.add(site.name+": plain libraries chained", fmt.Sprintf("%.0f ads/s, %.0f photos/s", float64(sum.Ads)/theirMean.Seconds(),
		float64(sum.Images)/theirMean.Seconds()), "—",
		fmt.Sprintf("%d ads, %d photos (%d distinct hashed, %d failed) in %v, CPU %v: colly crawl %v, downloads %v, decode + goimagehash %v, bleve %v; mean of %d",
			sum.Ads, sum.Images, sum.Distinct, sum.Failed, theirMean.Round(100*time.Millisecond), (theirCPU/time.Duration(n)).Round(100*time.Millisecond), (sum.Crawl/time.Duration(n)).Round(100*time.Millisecond),
			(sum.Download/time.Duration(n)).Round(100*time.Millisecond), (sum.Hash/time.Duration(n)).Round(100*time.Millisecond),
			(sum.Index/time.Duration(n)).Round(100*time.Millisecond), int(n)))
	b.add(site.name+": ratio (plain chain / adwatch)", fmt.Sprintf("%.2f", theirs.Seconds()/ours.Seconds()), ">= 1.0",
		"the plain chain's time over adwatch's, same site, same run")
	return nil
}

// runOnce runs adwatch run --once in-process against a fresh simulator of
// w, into dir, without fsync; with profile set, under a CPU profile
// written there.
func (b *bench) runOnce(ctx context.Context, cfg config.Config, w *sim.World, ph *sim.Photos, dir, profile string) (e2eRun, error) {
	ts := httptest.NewServer(simServer(w, ph))
	defer ts.Close()
	cfg.Sites = slices.Clone(cfg.Sites)
	for i := range cfg.Sites {
		if err := cfg.Sites[i].SetBaseURL(ts.URL); err != nil {
			return e2eRun{}, err
		}
	}
	level := slog.LevelError
	if b.verbose {
		level = slog.LevelInfo
	}
	a := app.New(cfg, dir, slog.New(slog.NewTextHandler(b.log, &slog.HandlerOptions{Level: level})))
	a.SyncAlways = false
	fmt.Fprintf(b.log, "bench: adwatch run --once on %d ads\n", len(w.Ads))
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return e2eRun{}, fmt.Errorf("creating the CPU profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return e2eRun{}, fmt.Errorf("starting the CPU profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	start, cpu := time.Now(), cpuTime()
	if b.timeline {
		tick := time.NewTicker(250 * time.Millisecond)
		done := make(chan struct{})
		var printer sync.WaitGroup
		defer printer.Wait()
		defer close(done)
		printer.Go(func() {
			last := cpuTime()
			for {
				select {
				case <-done:
					tick.Stop()
					return
				case <-tick.C:
					c := cpuTime()
					fmt.Fprintf(b.log, "timeline %5.2fs: CPU %3.0f%%, published %5.0f, images %5.0f, hashed %5.0f, extracted %5.0f, indexed %5.0f\n", time.Since(start).Seconds(),
						float64(c-last)/float64(250*time.Millisecond)*100,
						counter(a.Registry, "adwatch_crawler_ads_published_total", ""), counter(a.Registry, "adwatch_crawler_images_fetched_total", ""),
						counter(a.Registry, "adwatch_extractor_images_total", "hashed"), counter(a.Registry, "adwatch_extractor_ads_extracted_total", ""),
						counter(a.Registry, "adwatch_indexer_ads_indexed_total", ""))
					last = c
				}
			}
		})
	}
	if err := a.Run(ctx, true); err != nil {
		return e2eRun{}, fmt.Errorf("adwatch run --once: %w", err)
	}
	r := e2eRun{took: time.Since(start), cpu: cpuTime() - cpu}
	r.published = counter(a.Registry, "adwatch_crawler_ads_published_total", "")
	r.images = counter(a.Registry, "adwatch_crawler_images_fetched_total", "")
	r.hashed = counter(a.Registry, "adwatch_extractor_images_total", "hashed")
	r.cachedImages = counter(a.Registry, "adwatch_extractor_images_total", "cached")
	fmt.Fprintf(b.log, "bench: adwatch run --once: %v, CPU %v\n", r.took, r.cpu.Round(100*time.Millisecond))
	return r, nil
}

// simServer is a fresh simulator of w serving its photos from ph (drawn
// per request when ph is nil).
func simServer(w *sim.World, ph *sim.Photos) *sim.Server {
	s := sim.NewServer(w)
	s.Photos = ph
	return s
}

// runPlain runs the plain chain against a fresh simulator of w.
func (b *bench) runPlain(ctx context.Context, w *sim.World, ph *sim.Photos, dir string) (baseline.Result, time.Duration, error) {
	ts := httptest.NewServer(simServer(w, ph))
	defer ts.Close()
	fmt.Fprintf(b.log, "bench: plain chain on %d ads\n", len(w.Ads))
	cpu := cpuTime()
	r, err := baseline.Run(ctx, simSite(ts.URL), dir)
	cpu = cpuTime() - cpu
	if err != nil {
		return r, cpu, fmt.Errorf("the plain chain: %w", err)
	}
	if r.Ads != len(w.Ads) {
		return r, cpu, fmt.Errorf("the plain chain found %d ads, the simulator has %d", r.Ads, len(w.Ads))
	}
	fmt.Fprintf(b.log, "bench: plain chain: %v, CPU %v\n", r.Total(), cpu.Round(100*time.Millisecond))
	return r, cpu, nil
}

// counter sums a counter's series on reg whose "result" label is result
// (any, when empty).
func counter(reg *prometheus.Registry, name, result string) float64 {
	mfs, err := reg.Gather()
	if err != nil {
		return 0
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := result == ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == result {
					match = true
				}
			}
			if match && m.GetCounter() != nil {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

// cpuTime is the CPU time this process has used so far (user and system,
// every thread): the end-to-end runs, the simulator's included, are
// measured by it beside the wall time, which the machine's load moves
// more.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
