// Package app wires adwatch's stages together: it starts the embedded NATS
// server (unless the config names an external one), opens the index, and
// runs the stages, which talk to each other only through NATS.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/adwatch/adwatch/alerts"
	"github.com/adwatch/adwatch/alerts/digest"
	"github.com/adwatch/adwatch/crawler"
	"github.com/adwatch/adwatch/extractor"
	"github.com/adwatch/adwatch/extractor/indicator"
	"github.com/adwatch/adwatch/indexer"
	"github.com/adwatch/adwatch/internal/bus"
	"github.com/adwatch/adwatch/internal/config"
	"github.com/adwatch/adwatch/report"
	"github.com/adwatch/adwatch/web"
)

// App holds what every command shares.
type App struct {
	Config  config.Config
	DataDir string
	Log     *slog.Logger
	// SyncAlways makes the embedded JetStream fsync every write.
	SyncAlways bool

	Registry *prometheus.Registry
	Bus      *bus.Bus
	owner    *bus.Owner
}

// New returns an App with its own metrics registry.
func New(cfg config.Config, dataDir string, log *slog.Logger) *App {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &App{Config: cfg, DataDir: dataDir, Log: log, Registry: reg, SyncAlways: true}
}

// Connect connects to the configured NATS, starting the embedded server
// when embedded is allowed and no URL is configured.
func (a *App) Connect(ctx context.Context, embedded bool) error {
	url := a.Config.NATS.URL
	if url == "" {
		if !embedded {
			return errors.New("this command runs one stage against a NATS server: set nats.url in the config (adwatch run starts an embedded one)")
		}
		owner, u, err := bus.Open(a.DataDir, a.SyncAlways)
		if err != nil {
			return err
		}
		url = u
		if owner == nil {
			a.Log.Info("the data dir belongs to a running adwatch; using its nats", "url", url)
		} else {
			a.owner = owner
			a.Log.Info("embedded nats started", "store", a.DataDir)
		}
	}
	b, err := bus.Connect(ctx, url, a.Config.NATS.Replicas)
	if err != nil {
		a.Close()
		return err
	}
	a.Bus = b
	return nil
}

// Close disconnects and stops the embedded server.
func (a *App) Close() {
	if a.Bus != nil {
		a.Bus.Close()
		a.Bus = nil
	}
	if a.owner != nil {
		a.owner.Close()
		a.owner = nil
	}
}

// OpenIndex opens the index under the data directory.
func (a *App) OpenIndex(readOnly bool) (*indexer.Index, error) {
	return indexer.Open(a.DataDir, a.Config.Linking.PHashThreshold, a.Config.Linking.MaxProfilesPerLink, readOnly)
}

// Crawler builds the crawler stage.
func (a *App) Crawler(once bool) *crawler.Crawler {
	return &crawler.Crawler{Sites: a.Config.Sites, Bus: a.Bus, Log: a.Log.With("component", "crawler"),
		Metrics: crawler.NewMetrics(a.Registry), Interval: a.Config.Crawl.Interval, Once: once}
}

// Extractor builds the extractor stage.
func (a *App) Extractor() (*extractor.Stage, error) {
	m, err := indicator.LoadDir(a.Config.IndicatorsDir)
	if err != nil {
		return nil, err
	}
	x := extractor.New(a.Config.Sites, a.Config.Region, m, a.Config.Extract.MaxImagePixels)
	return &extractor.Stage{Extractor: x, Bus: a.Bus, Log: a.Log.With("component", "extractor"), Metrics: extractor.NewMetrics(a.Registry)}, nil
}

// Indexer builds the indexer stage over idx.
func (a *App) Indexer(idx *indexer.Index) *indexer.Stage {
	return &indexer.Stage{Index: idx, Bus: a.Bus, Log: a.Log.With("component", "indexer"), Metrics: indexer.NewMetrics(a.Registry)}
}

// Alerts builds the alert stage from the alerts file. A rule that does not
// compile is logged with its line and left out; the others run.
func (a *App) Alerts() (*alerts.Stage, error) {
	f, rules, bad, err := alerts.LoadRules(a.Config.AlertsFile)
	if err != nil {
		return nil, err
	}
	log := a.Log.With("component", "alerts")
	for _, b := range bad {
		log.Error("alert rule rejected", "rule", b.Rule, "line", b.Line, "reason", b.Reason)
	}
	return &alerts.Stage{Bus: a.Bus, Log: log, Metrics: alerts.NewMetrics(a.Registry),
		Rules: rules, WindowDays: f.WindowDays, Location: a.Config.CityLocation, PHashThreshold: a.Config.Linking.PHashThreshold}, nil
}

// Web builds the web server over idx.
func (a *App) Web(idx *indexer.Index) *web.Server {
	s := &web.Server{Index: idx, Config: &a.Config, Gatherer: a.Registry, Log: a.Log.With("component", "web")}
	if a.Bus != nil {
		s.Alerts, s.Watch, s.Images = a.Bus.AlertsKV, a.Bus.WatchKV, a.Bus.Images
	}
	return s
}

// Stage is anything that runs until its context is done.
type Stage interface {
	Run(ctx context.Context) error
}

// RunStages runs the stages until ctx is done or one fails; a failure
// cancels the others. It waits for all of them.
func RunStages(ctx context.Context, stages map[string]func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for name, run := range stages {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(ctx); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
				mu.Unlock()
				cancel()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Run runs every stage in-process. With once it crawls each site once,
// waits until every stage has processed everything, and returns; otherwise
// it monitors and serves the web UI until ctx is done.
func (a *App) Run(ctx context.Context, once bool) error {
	if err := a.Connect(ctx, true); err != nil {
		return err
	}
	defer a.Close()
	idx, err := a.OpenIndex(false)
	if err != nil {
		return err
	}
	defer idx.Close()
	ext, err := a.Extractor()
	if err != nil {
		return err
	}
	al, err := a.Alerts()
	if err != nil {
		return err
	}
	crawl, ix := a.Crawler(once), a.Indexer(idx)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stages := map[string]func(context.Context) error{
		"extractor": ext.Run,
		"indexer":   ix.Run,
		"alerts":    al.Run,
	}
	if once {
		stages["crawler"] = func(ctx context.Context) error {
			start := time.Now()
			// A site that could not be crawled fails the run, but only
			// after what the other sites gave is processed.
			crawlErr := crawl.Run(ctx)
			if err := a.waitIdle(ctx, al); err != nil {
				return err
			}
			n, _ := idx.Count()
			a.Log.Info("run finished", "ads_indexed", n, "seconds", time.Since(start).Seconds())
			if crawlErr != nil {
				return fmt.Errorf("some sites could not be crawled (the others were): %w", crawlErr)
			}
			cancel()
			return nil
		}
	} else {
		stages["crawler"] = crawl.Run
		stages["web"] = func(ctx context.Context) error { return a.Web(idx).Run(ctx, a.Config.Serve.Addr) }
		if err := a.addDigests(stages, idx); err != nil {
			return err
		}
	}
	return RunStages(ctx, stages)
}

// addDigests adds the digest scheduler and sender when units are
// configured.
func (a *App) addDigests(stages map[string]func(context.Context) error, idx *indexer.Index) error {
	f, _, _, err := alerts.LoadRules(a.Config.AlertsFile)
	if err != nil {
		return err
	}
	if len(f.Units) == 0 {
		return nil
	}
	log := a.Log.With("component", "digest")
	sched := &digest.Scheduler{Bus: a.Bus, Units: f.Units, WebURL: f.WebURL, Snap: Snapshotter(&a.Config, idx), Log: log}
	send := &digest.Sender{Bus: a.Bus, SMTP: f.SMTP, Log: log}
	stages["digest-scheduler"] = sched.Run
	stages["digest-sender"] = send.Run
	return nil
}

// Snapshotter counts a city's ads and profiles over one local day.
func Snapshotter(cfg *config.Config, idx *indexer.Index) digest.Snapshotter {
	return func(city string, day time.Time) (int, int, error) {
		s, err := report.TakeSnapshot(cfg, idx, city, day.Format("2006-01-02"))
		return s.Ads, s.Profiles, err
	}
}

// waitIdle returns when the extractor and indexer have acknowledged every
// message and the alert stage has evaluated every profile update, twice in
// a row.
func (a *App) waitIdle(ctx context.Context, al *alerts.Stage) error {
	calm := 0
	for calm < 2 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
		busy, err := a.busy(ctx, al)
		if err != nil {
			return err
		}
		if busy {
			calm = 0
		} else {
			calm++
		}
	}
	return nil
}

func (a *App) busy(ctx context.Context, al *alerts.Stage) (bool, error) {
	for _, c := range []struct{ stream, durable string }{{bus.StreamPages, "extractor"}, {bus.StreamAds, "indexer"}} {
		n, err := bus.Pending(ctx, a.Bus.JS, c.stream, c.durable)
		if err != nil {
			return false, err
		}
		if n > 0 {
			return true, nil
		}
	}
	st, err := a.Bus.JS.Stream(ctx, bus.StreamProfiles)
	if err != nil {
		return false, fmt.Errorf("reading profile stream: %w", err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return false, fmt.Errorf("reading profile stream: %w", err)
	}
	return al.Processed() < info.State.LastSeq, nil
}
