package indexer

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/adwatch/adwatch/internal/bus"
	"github.com/adwatch/adwatch/internal/record"
)

// MarkGone applies what a complete crawl of a site found: each ad of the
// site fetched before the pass began whose page the pass did not find is
// marked gone at the pass's end (once: by the first pass that missed it),
// and an ad marked gone whose page a pass found again is up again. It
// returns the ads it changed.
func (x *Index) MarkGone(p record.SitePass) ([]string, error) {
	found := make(map[string]bool, len(p.AdURLs))
	for _, u := range p.AdURLs {
		found[u] = true
	}
	var changed []record.Ad
	err := x.Ads(Filter{Site: p.Site}, func(a record.Ad) error {
		if a.URL == "" {
			return nil
		}
		switch {
		case !found[a.URL] && a.GoneAt.IsZero() && a.FetchedAt.Before(p.Started):
			a.GoneAt = p.Finished
		case found[a.URL] && !a.GoneAt.IsZero():
			a.GoneAt = time.Time{}
		default:
			return nil
		}
		changed = append(changed, a)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the ads of %s: %w", p.Site, err)
	}
	if len(changed) == 0 {
		return nil, nil
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	b := x.bleve.newDocBatch()
	ids := make([]string, 0, len(changed))
	for i := range changed {
		if x.pages[changed[i].ID] != pageDigest(changed[i].Version()) {
			continue // captured again meanwhile: the new capture stands
		}
		d, err := toDoc(&changed[i])
		if err != nil {
			return nil, err
		}
		if err := x.bleve.index(b, &changed[i], d); err != nil {
			return nil, err
		}
		ids = append(ids, changed[i].ID)
	}
	if err := x.bleve.apply(b); err != nil {
		return nil, fmt.Errorf("marking %d ads of %s: %w", len(ids), p.Site, err)
	}
	slices.Sort(ids)
	return ids, nil
}

// runPasses applies the crawl passes (ADWATCH_PASSES) to the index until
// ctx is done.
func (s *Stage) runPasses(ctx context.Context, durable string) error {
	c := bus.Consumer{Stream: bus.StreamPasses, Durable: durable + "-passes", Batch: 1, Stage: "indexer", Dead: s.Metrics.Dead, Log: s.Log}
	return c.Run(ctx, s.JS, func(_ context.Context, msgs []jetstream.Msg) []error {
		errs := make([]error, len(msgs))
		for i, m := range msgs {
			var p record.SitePass
			if err := json.Unmarshal(m.Data(), &p); err != nil || p.Site == "" {
				errs[i] = fmt.Errorf("%w: decoding a crawl pass: %v", bus.ErrPoison, err)
				continue
			}
			ids, err := s.Index.MarkGone(p)
			if err != nil {
				errs[i] = err
				continue
			}
			if len(ids) > 0 {
				s.Log.Info("ads no longer found, or found again, after a crawl pass", "site", p.Site, "ads", len(ids))
			}
		}
		return errs
	})
}
