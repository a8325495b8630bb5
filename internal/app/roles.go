package app

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/adwatch/adwatch/alerts"
	"github.com/adwatch/adwatch/alerts/digest"
	"github.com/adwatch/adwatch/audit"
	"github.com/adwatch/adwatch/auth"
	"github.com/adwatch/adwatch/cases"
	"github.com/adwatch/adwatch/crawler"
	"github.com/adwatch/adwatch/extractor"
	"github.com/adwatch/adwatch/extractor/indicator"
	"github.com/adwatch/adwatch/indexer"
	"github.com/adwatch/adwatch/internal/bus"
	"github.com/adwatch/adwatch/internal/record"
	"github.com/adwatch/adwatch/report"
	"github.com/adwatch/adwatch/retention"
	"github.com/adwatch/adwatch/web"
)

// The roles a process can take. adwatch run takes them all; each has its
// own command (crawl, extract, index, alerts, send, serve) that runs it
// alone against nats.url.
const (
	// RoleCrawl fetches the sites' ad pages and images.
	RoleCrawl = "crawl"
	// RoleExtract turns pages into ads: phones, ages, handles, photos,
	// indicator terms.
	RoleExtract = "extract"
	// RoleIndex indexes ads and links them into profiles and networks.
	RoleIndex = "index"
	// RoleAlerts evaluates the alert rules and the watchlist.
	RoleAlerts = "alerts"
	// RoleSend schedules the units' digests and delivers them.
	RoleSend = "send"
	// RoleWeb serves the web UI, the API and the metrics.
	RoleWeb = "web"
)

// AllRoles returns every role, in pipeline order.
func AllRoles() []string {
	return []string{RoleCrawl, RoleExtract, RoleIndex, RoleAlerts, RoleSend, RoleWeb}
}

// Stage is one part of the pipeline. Run returns when ctx is done, or
// earlier with an error that stops the process.
type Stage interface {
	Run(ctx context.Context) error
}

// Options change how roles are built.
type Options struct {
	// Once makes the crawler crawl each site once and return.
	Once bool
}

// Stages is a set of built stages and what they hold open.
type Stages struct {
	// Named are the stages by name (a role may give several: send gives
	// the digest scheduler and the sender).
	Named map[string]Stage
	// Index is the index the stages share, or nil.
	Index *indexer.Index
	// Alerts is the alert stage, or nil.
	Alerts  *alerts.Stage
	closers []func() error
}

// Close releases what the stages held open (the index, a report source).
func (s *Stages) Close() {
	for _, c := range slices.Backward(s.closers) {
		_ = c()
	}
	s.closers = nil
}

// Build turns roles into stages. Every role needs a bus (Connect first).
func (a *App) Build(ctx context.Context, roles []string, o Options) (*Stages, error) {
	s := &Stages{Named: map[string]Stage{}}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
	has := func(r string) bool { return slices.Contains(roles, r) }
	for _, r := range roles {
		if !slices.Contains(AllRoles(), r) {
			return nil, fmt.Errorf("unknown role %q (one of %v)", r, AllRoles())
		}
		if a.Bus == nil {
			return nil, fmt.Errorf("role %s needs NATS: connect first", r)
		}
	}
	// The index and web roles share one index: one process owns it.
	if has(RoleIndex) || has(RoleWeb) {
		idx, err := a.OpenIndex(false)
		if err != nil {
			return nil, err
		}
		s.Index = idx
		s.closers = append(s.closers, idx.Close)
	}
	var rules *alerts.File
	loadRules := func() (*alerts.File, []alerts.Rule, error) {
		f, rs, bad, err := alerts.LoadRules(a.Config.AlertsFile)
		if err != nil {
			return nil, nil, err
		}
		log := a.Log.With("component", "alerts")
		for _, b := range bad {
			log.Error("alert rule rejected", "rule", b.Rule, "line", b.Line, "reason", b.Reason)
		}
		return &f, rs, nil
	}
	for _, r := range roles {
		switch r {
		case RoleCrawl:
			s.Named["crawler"] = &crawler.Crawler{Sites: a.Config.Sites, JS: a.Bus.JS, Images: a.Bus.Images, PageSums: a.Bus.PageSums, Log: a.Log.With("component", "crawler"),
				Metrics: crawler.NewMetrics(a.metrics), Interval: a.Config.Crawl.Interval, Once: o.Once}
		case RoleExtract:
			m, err := indicator.LoadDir(a.Config.IndicatorsDir)
			if err != nil {
				return nil, err
			}
			x := extractor.New(a.Config.Sites, a.Config.Region, m, a.Config.Extract.MaxImagePixels)
			s.Named["extractor"] = &extractor.Stage{Extractor: x, JS: a.Bus.JS, Images: a.Bus.Images, ImageHashes: a.Bus.ImageHashes, Log: a.Log.With("component", "extractor"), Metrics: extractor.NewMetrics(a.metrics)}
		case RoleIndex:
			s.Named["indexer"] = a.indexer(s.Index)
			if a.Config.Retention.Days > 0 {
				p, err := a.purger(ctx, s.Index)
				if err != nil {
					return nil, err
				}
				s.Named["retention"] = p
			}
		case RoleAlerts:
			f, rs, err := loadRules()
			if err != nil {
				return nil, err
			}
			rules = f
			s.Alerts = &alerts.Stage{JS: a.Bus.JS, Alerts: a.Bus.Alerts, Watchlist: a.Bus.Watchlist, Log: a.Log.With("component", "alerts"), Metrics: alerts.NewMetrics(a.metrics),
				Rules: rs, WindowDays: f.WindowDays, Location: a.Config.CityLocation, PHashThreshold: a.Config.Linking.PHashThreshold}
			s.Named["alerts"] = s.Alerts
		case RoleSend:
			if rules == nil {
				f, _, err := loadRules()
				if err != nil {
					return nil, err
				}
				rules = f
			}
			if len(rules.Units) == 0 {
				a.Log.Info("no units in the alerts file: no digests to send", "file", a.Config.AlertsFile)
				continue
			}
			snap := a.freshSnapshotter()
			if s.Index != nil {
				snap = Snapshotter(&report.Local{Config: &a.Config, Index: s.Index})
			}
			log := a.Log.With("component", "digest")
			s.Named["digest-scheduler"] = &digest.Scheduler{Outbox: a.Outbox(), Units: rules.Units, WebURL: a.DigestURL(rules), Snap: snap, Log: log}
			s.Named["digest-sender"] = &digest.Sender{JS: a.Bus.JS, Delivered: a.Bus.Digests, SMTP: rules.SMTP, Log: log, Metrics: digest.NewMetrics(a.metrics)}
		case RoleWeb:
			if a.Config.NATS.URL != "" && !has(RoleIndex) {
				// This index is a view of its own, kept current by its own
				// durable consumer, so it takes no messages from the index
				// role's.
				ix := a.indexer(s.Index)
				abs, _ := filepath.Abs(a.DataDir)
				ix.Durable = "view-" + record.SHA256Hex([]byte(abs))[:12]
				s.Named["indexer"] = ix
			}
			log := a.Log.With("component", "web")
			// Its buckets and streams, waiting out a NATS node lost
			// while it starts.
			var users *auth.Store
			var trail *audit.Log
			var cs *cases.Store
			var pages jetstream.Stream
			err := bus.Retry(ctx, 2*time.Minute, log, "opening the accounts, audit log and cases", func() error {
				var err error
				if users, err = auth.Open(ctx, a.Bus.JS, a.Config.NATS.Replicas); err != nil {
					return err
				}
				if trail, err = audit.Open(ctx, a.Bus.JS, a.Config.Audit.Retention, a.Config.NATS.Replicas, audit.WithLogger(log)); err != nil {
					return err
				}
				if cs, err = cases.Open(ctx, a.Bus.JS, a.Config.NATS.Replicas); err != nil {
					return err
				}
				if pages, err = a.Bus.JS.Stream(ctx, bus.StreamPages); err != nil {
					return fmt.Errorf("opening stream %s: %w", bus.StreamPages, err)
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
			users.Log = log
			// The units, for the alert inbox's filter (the alert role
			// reports rejected rules).
			units, _, _, err := alerts.LoadRules(a.Config.AlertsFile)
			if err != nil {
				return nil, err
			}
			s.Named["web"] = &web.Server{Addr: a.Config.Serve.Addr, Index: s.Index, Config: &a.Config, Users: users, Audit: trail, Cases: cs, Units: units.Units,
				Alerts: a.Bus.Alerts, Watchlist: a.Bus.Watchlist, Images: a.Bus.Images, Pages: pages, JS: a.Bus.JS, Gatherer: a.Registry, Metrics: web.NewMetrics(a.metrics), Log: log, TokenFile: a.TokenFile()}
		}
	}
	if addr := a.Config.Metrics.Addr; addr != "" && len(s.Named) > 0 {
		s.Named["metrics"] = &MetricsServer{Addr: addr, Gatherer: a.Registry, Log: a.Log.With("component", "metrics")}
	}
	ok = true
	return s, nil
}

func (a *App) indexer(idx *indexer.Index) *indexer.Stage {
	return &indexer.Stage{Index: idx, JS: a.Bus.JS, Log: a.Log.With("component", "indexer"), Metrics: indexer.NewMetrics(a.metrics)}
}

// purger is the retention stage of the index role: the one process that
// writes the index purges it.
func (a *App) purger(ctx context.Context, idx *indexer.Index) (*retention.Purger, error) {
	log := a.Log.With("component", "retention")
	trail, err := audit.Open(ctx, a.Bus.JS, a.Config.Audit.Retention, a.Config.NATS.Replicas, audit.WithLogger(log))
	if err != nil {
		return nil, err
	}
	cs, err := cases.Open(ctx, a.Bus.JS, a.Config.NATS.Replicas)
	if err != nil {
		return nil, err
	}
	return &retention.Purger{Days: a.Config.Retention.Days, Every: a.Config.Retention.Every, Index: idx, JS: a.Bus.JS,
		Images: a.Bus.Images, ImageHashes: a.Bus.ImageHashes, PageSums: a.Bus.PageSums, Alerts: a.Bus.Alerts,
		Cases: cs, Audit: trail, Log: log, Metrics: retention.NewMetrics(a.metrics)}, nil
}

// DigestURL is where digest links point: serve.public_url when set, else
// the alerts file's web_url.
func (a *App) DigestURL(f *alerts.File) string {
	if a.Config.Serve.PublicURL != "" {
		return a.Config.WebURL()
	}
	return f.WebURL
}

// Outbox is what building and queueing digests use.
func (a *App) Outbox() digest.Outbox {
	return digest.Outbox{JS: a.Bus.JS, Alerts: a.Bus.Alerts, Sent: a.Bus.Digests}
}

// Snapshotter counts a city's ads and profiles over one local day, for
// the digests.
func Snapshotter(src report.Source) digest.Snapshotter {
	return func(ctx context.Context, city string, day time.Time) (int, int, error) {
		s, err := src.Snapshot(ctx, city, day.Format("2006-01-02"))
		return s.Ads, s.Profiles, err
	}
}

// freshSnapshotter is the digests' Snapshotter of a process that does not
// hold the index: each count opens the index (or the running adwatch's
// API) and closes it again, so the figures are current and the index stays
// free for the process that writes it.
func (a *App) freshSnapshotter() digest.Snapshotter {
	return func(ctx context.Context, city string, day time.Time) (int, int, error) {
		src, _, err := a.OpenSource()
		if err != nil {
			return 0, 0, err
		}
		defer src.Close()
		return Snapshotter(src)(ctx, city, day)
	}
}

// Every stage type satisfies Stage.
var (
	_ Stage = (*crawler.Crawler)(nil)
	_ Stage = (*extractor.Stage)(nil)
	_ Stage = (*indexer.Stage)(nil)
	_ Stage = (*retention.Purger)(nil)
	_ Stage = (*alerts.Stage)(nil)
	_ Stage = (*digest.Scheduler)(nil)
	_ Stage = (*digest.Sender)(nil)
	_ Stage = (*web.Server)(nil)
)
