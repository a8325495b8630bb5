package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"slices"
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
	on         bool
	scenario   string
	rounds     int
	cpuProfile string
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

	if o.rounds > 0 {
		if err := b.photoHeavy(ctx, cfg, w, photos, dir, o); err != nil {
			return err
		}
	}
	textProfile := ""
	if o.rounds <= 0 {
		textProfile = o.cpuProfile
	}
	r, err := b.runOnce(ctx, cfg, &text, filepath.Join(dir, "adwatch-text"), textProfile)
	if err != nil {
		return err
	}
	p, pcpu, err := b.runPlain(ctx, &text, filepath.Join(dir, "plain-text.bleve"))
	if err != nil {
		return err
	}
	b.add("end to end, text-only: adwatch run --once", fmt.Sprintf("%.0f ads/s", float64(len(text.Ads))/r.took.Seconds()), ">= 1,000 ads/s",
		fmt.Sprintf("%d ads (%.0f published) in %v, CPU %v; plain chain (colly crawl %v, bleve %v) %v, CPU %v, ratio %.2f", len(text.Ads), r.published,
			r.took.Round(100*time.Millisecond), r.cpu.Round(100*time.Millisecond), p.Crawl.Round(100*time.Millisecond), p.Index.Round(100*time.Millisecond),
			p.Total().Round(100*time.Millisecond), pcpu.Round(100*time.Millisecond), p.Total().Seconds()/r.took.Seconds()))
	return nil
}

// photoHeavy runs o.rounds rounds of adwatch run --once and the plain
// chain on w, in alternating order, and adds their rows.
func (b *bench) photoHeavy(ctx context.Context, cfg config.Config, w *sim.World, photos int, dir string, o e2eOptions) error {
	var ours, theirs, ourCPU, theirCPU time.Duration
	var last e2eRun
	var sum baseline.Result
	for round := range o.rounds {
		runOurs := func() error {
			profile := ""
			if round == 0 {
				profile = o.cpuProfile
			}
			r, err := b.runOnce(ctx, cfg, w, filepath.Join(dir, fmt.Sprintf("adwatch-%d", round)), profile)
			if err != nil {
				return err
			}
			ours += r.took
			ourCPU += r.cpu
			last = r
			return nil
		}
		runTheirs := func() error {
			r, cpu, err := b.runPlain(ctx, w, filepath.Join(dir, fmt.Sprintf("plain-%d.bleve", round)))
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
	n := float64(o.rounds)
	ourMean, theirMean := ours/time.Duration(n), theirs/time.Duration(n)
	b.add("end to end, photo-heavy: adwatch run --once", fmt.Sprintf("%.0f ads/s, %.0f photos/s", float64(len(w.Ads))/ourMean.Seconds(),
		float64(photos)/ourMean.Seconds()), "—",
		fmt.Sprintf("%d ads, %d photos (%.0f published, %.0f downloaded, %.0f hashed, %.0f from the hash cache) in %v, CPU %v; mean of %d",
			len(w.Ads), photos, last.published, last.images, last.hashed, last.cachedImages, ourMean.Round(100*time.Millisecond),
			(ourCPU/time.Duration(n)).Round(100*time.Millisecond), int(n)))
	b.add("end to end, photo-heavy: plain libraries chained", fmt.Sprintf("%.0f ads/s, %.0f photos/s", float64(sum.Ads)/theirMean.Seconds(),
		float64(sum.Images)/theirMean.Seconds()), "—",
		fmt.Sprintf("%d ads, %d photos (%d distinct hashed, %d failed) in %v, CPU %v: colly crawl %v, downloads %v, decode + goimagehash %v, bleve %v; mean of %d",
			sum.Ads, sum.Images, sum.Distinct, sum.Failed, theirMean.Round(100*time.Millisecond), (theirCPU/time.Duration(n)).Round(100*time.Millisecond), (sum.Crawl/time.Duration(n)).Round(100*time.Millisecond),
			(sum.Download/time.Duration(n)).Round(100*time.Millisecond), (sum.Hash/time.Duration(n)).Round(100*time.Millisecond),
			(sum.Index/time.Duration(n)).Round(100*time.Millisecond), int(n)))
	b.add("end to end, photo-heavy: ratio (plain chain / adwatch)", fmt.Sprintf("%.2f", theirs.Seconds()/ours.Seconds()), ">= 1.0",
		"the plain chain's time over adwatch's, same site, same run")
	return nil
}

// runOnce runs adwatch run --once in-process against a fresh simulator of
// w, into dir, without fsync; with profile set, under a CPU profile
// written there.
func (b *bench) runOnce(ctx context.Context, cfg config.Config, w *sim.World, dir, profile string) (e2eRun, error) {
	ts := httptest.NewServer(sim.NewServer(w))
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

// runPlain runs the plain chain against a fresh simulator of w.
func (b *bench) runPlain(ctx context.Context, w *sim.World, dir string) (baseline.Result, time.Duration, error) {
	ts := httptest.NewServer(sim.NewServer(w))
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
