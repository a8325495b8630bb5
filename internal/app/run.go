package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/adwatch/adwatch/alerts"
	"github.com/adwatch/adwatch/internal/bus"
	"github.com/adwatch/adwatch/internal/progress"
)

// RunStages runs the stages until ctx is done or one fails; a failure
// cancels the others. It waits for all of them.
func RunStages(ctx context.Context, stages map[string]Stage) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for name, st := range stages {
		wg.Go(func() {
			if err := st.Run(ctx); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
				mu.Unlock()
				cancel()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// RunRoles connects, builds the roles' stages and runs them until ctx is
// done. embedded allows starting the embedded NATS server when no URL is
// configured.
func (a *App) RunRoles(ctx context.Context, roles []string, embedded bool) error {
	if err := a.Connect(ctx, embedded); err != nil {
		return err
	}
	defer a.Close()
	s, err := a.Build(ctx, roles, Options{})
	if err != nil {
		return err
	}
	defer s.Close()
	if len(s.Named) == 0 {
		return fmt.Errorf("nothing to run for %v (a send role needs units in %s)", roles, a.Config.AlertsFile)
	}
	return RunStages(ctx, s.Named)
}

// Run runs every role in-process. With once it crawls each site once,
// waits until every stage has processed everything, and returns; otherwise
// it monitors, sends digests and serves the web UI until ctx is done.
func (a *App) Run(ctx context.Context, once bool) error {
	if !once {
		return a.RunRoles(ctx, AllRoles(), true)
	}
	if err := a.Connect(ctx, true); err != nil {
		return err
	}
	defer a.Close()
	s, err := a.Build(ctx, []string{RoleCrawl, RoleExtract, RoleIndex, RoleAlerts}, Options{Once: true})
	if err != nil {
		return err
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	crawl := s.Named["crawler"]
	s.Named["progress"] = stageFunc(func(ctx context.Context) error {
		a.logProgress(ctx, s, 10*time.Second)
		return nil
	})
	s.Named["crawler"] = stageFunc(func(ctx context.Context) error {
		start := time.Now()
		// A site that could not be crawled fails the run, but only
		// after what the other sites gave is processed.
		crawlErr := crawl.Run(ctx)
		if err := a.waitIdle(ctx, s.Alerts); err != nil {
			return err
		}
		n, _ := s.Index.Count()
		a.Log.Info("run finished", "ads_indexed", n, "seconds", time.Since(start).Seconds())
		if crawlErr != nil {
			return fmt.Errorf("some sites could not be crawled (the others were): %w", crawlErr)
		}
		cancel()
		return nil
	})
	return RunStages(ctx, s.Named)
}

// logProgress logs, every interval until ctx is done, how far a run has
// come: ads indexed, and the pages and ads still waiting for their stage.
// On a terminal (App.Progress) it draws a bar of the ads indexed out of
// those indexed and waiting, every half second, instead.
func (a *App) logProgress(ctx context.Context, s *Stages, interval time.Duration) {
	var bar *progress.Bar
	if a.Progress != nil && progress.IsTerminal(a.Progress) {
		bar = progress.New(a.Progress, "run", "ads", 0, interval)
		defer bar.Finish()
		interval = 500 * time.Millisecond
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	start := time.Now()
	before, _ := s.Index.Count()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, _ := s.Index.Count()
		pages, _ := bus.Pending(ctx, a.Bus.JS, bus.StreamPages, "extractor")
		ads, _ := bus.Pending(ctx, a.Bus.JS, bus.StreamAds, "indexer")
		if bar != nil {
			done := int64(n) - int64(before)
			bar.Set(done, done+int64(pages)+int64(ads))
			continue
		}
		a.Log.Info("run in progress", "ads_indexed", n, "pages_waiting", pages, "ads_waiting", ads,
			"ads_per_second", fmt.Sprintf("%.0f", float64(n)/time.Since(start).Seconds()))
	}
}

// stageFunc adapts a function to a Stage.
type stageFunc func(ctx context.Context) error

func (f stageFunc) Run(ctx context.Context) error { return f(ctx) }

// waitIdle returns when the extractor and indexer have acknowledged every
// message and the alert stage has evaluated every profile update, twice in
// a row, idlePoll apart.
func (a *App) waitIdle(ctx context.Context, al *alerts.Stage) error {
	calm := 0
	for calm < 2 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(idlePoll):
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

// idlePoll is how often waitIdle asks the streams whether everything is
// processed: each look is three consumer infos and a stream info, and
// run --once ends at the second calm look in a row.
const idlePoll = 100 * time.Millisecond

func (a *App) busy(ctx context.Context, al *alerts.Stage) (bool, error) {
	for _, c := range []struct{ stream, durable string }{{bus.StreamPages, "extractor"}, {bus.StreamAds, "indexer"}, {bus.StreamPasses, "indexer-passes"}} {
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
