// Package retention purges what adwatch holds past the retention period
// (retention.days in adwatch.yaml): an ad whose latest capture is older
// than that loses its index entry, its messages on the ads and pages
// streams (every version), its page checksum and the images no other ad
// shows, unless its profile is under an open alert or in a case, or the
// ad itself is. Every purge is written to the audit trail and counted.
//
// An ad still up when it is purged is captured afresh on the next crawl
// pass (its page checksum is gone), so a purge removes old captures,
// never a person's current ads.
package retention

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/adwatch/adwatch/alerts"
	"github.com/adwatch/adwatch/audit"
	"github.com/adwatch/adwatch/cases"
	"github.com/adwatch/adwatch/indexer"
	"github.com/adwatch/adwatch/internal/bus"
	"github.com/adwatch/adwatch/internal/record"
)

// Metrics counts what the purges removed and kept.
type Metrics struct {
	// Purged counts what was removed, by kind (ads, messages, images).
	Purged *prometheus.CounterVec
	// Kept counts the ads past the period kept because their profile is
	// under an open alert or in a case.
	Kept prometheus.Counter
	// Runs counts purges, by result (ok, failed).
	Runs *prometheus.CounterVec
}

// NewMetrics registers the purge metrics with reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Purged: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "adwatch_retention_purged_total",
			Help: "Captures purged past the retention period, by kind (ads, messages, images)."}, []string{"kind"}),
		Kept: prometheus.NewCounter(prometheus.CounterOpts{Name: "adwatch_retention_kept_total",
			Help: "Ads past the retention period kept because their profile is under an open alert or in a case."}),
		Runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "adwatch_retention_runs_total",
			Help: "Retention purges, by result (ok, failed)."}, []string{"result"}),
	}
	if reg != nil {
		reg.MustRegister(m.Purged, m.Kept, m.Runs)
	}
	return m
}

// Purger is the retention stage: it purges at start and then every Every.
type Purger struct {
	// Days is the retention period; zero purges nothing.
	Days int
	// Every is the time between purges.
	Every time.Duration

	Index       *indexer.Index
	JS          jetstream.JetStream
	Images      jetstream.ObjectStore
	ImageHashes jetstream.KeyValue
	PageSums    jetstream.KeyValue
	Alerts      jetstream.KeyValue
	Cases       *cases.Store
	Audit       *audit.Log
	Log         *slog.Logger
	Metrics     *Metrics
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Result is what one purge did.
type Result struct {
	Cutoff time.Time `json:"cutoff"`
	// Ads, Messages and Images count what was removed: ads from the index,
	// messages from the pages and ads streams, images from the store.
	Ads      int `json:"ads"`
	Messages int `json:"messages"`
	Images   int `json:"images"`
	// Kept counts the ads past the period kept for an open alert or a case.
	Kept int `json:"kept"`
}

// Run purges at once and then every p.Every until ctx is done. A failed
// purge is logged and counted and tried again at the next turn.
func (p *Purger) Run(ctx context.Context) error {
	if p.Days <= 0 {
		<-ctx.Done()
		return nil
	}
	every := p.Every
	if every <= 0 {
		every = 24 * time.Hour
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := p.Purge(ctx); err != nil && ctx.Err() == nil {
			p.Log.Error("retention purge failed; tried again at the next turn", "err", err, "next_in", every)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (p *Purger) now() time.Time {
	if p.Now != nil {
		return p.Now().UTC()
	}
	return time.Now().UTC()
}

// Purge removes, once, every ad past the retention period that no open
// alert and no case holds, and writes what it did to the audit trail.
func (p *Purger) Purge(ctx context.Context) (Result, error) {
	res, err := p.purge(ctx)
	result, outcome := "ok", audit.OutcomeOK
	if err != nil {
		result, outcome = "failed", audit.OutcomeFailed
	}
	p.Metrics.Runs.WithLabelValues(result).Inc()
	if p.Audit != nil && (err != nil || res.Ads > 0 || res.Kept > 0) {
		q, _ := json.Marshal(res)
		_, aerr := p.Audit.Append(ctx, audit.Entry{At: p.now(), User: "adwatch", Role: "system", From: "retention",
			Action: audit.ActionRetentionPurge, Query: string(q), Outcome: outcome})
		if aerr != nil {
			err = errors.Join(err, fmt.Errorf("auditing the purge: %w", aerr))
		}
	}
	if err == nil {
		p.Log.Info("retention purge", "cutoff", res.Cutoff, "ads", res.Ads, "messages", res.Messages, "images", res.Images, "kept", res.Kept)
	}
	return res, err
}

func (p *Purger) purge(ctx context.Context) (Result, error) {
	res := Result{Cutoff: p.now().AddDate(0, 0, -p.Days)}
	held, err := p.held(ctx)
	if err != nil {
		return res, err
	}
	var ids []string
	urls := map[string]bool{}
	err = p.Index.Ads(indexer.Filter{}, func(a record.Ad) error {
		if !a.FetchedAt.Before(res.Cutoff) {
			return nil
		}
		if held.ads[a.ID] || held.profiles[p.Index.Linker.Profile(a.ID)] {
			res.Kept++
			return nil
		}
		ids = append(ids, a.ID)
		if a.URL != "" {
			urls[a.URL] = true
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("reading the ads past the retention period: %w", err)
	}
	p.Metrics.Kept.Add(float64(res.Kept))
	if len(ids) == 0 {
		return res, nil
	}
	gone := make(map[string]bool, len(ids))
	for _, id := range ids {
		gone[id] = true
	}
	// The streams first: were the index purged first and the process
	// stopped, a rebuild from the streams would bring the ads back.
	images := map[string]bool{}
	inUse := map[string]bool{}
	n, err := p.deleteMessages(ctx, bus.StreamAds, res.Cutoff, func(data []byte) bool {
		var a record.Ad
		if json.Unmarshal(data, &a) != nil {
			return false
		}
		for _, img := range a.Images {
			if img.SHA256 == "" {
				continue
			}
			if gone[a.ID] {
				images[img.SHA256] = true
			} else {
				inUse[img.SHA256] = true
			}
		}
		return gone[a.ID]
	})
	res.Messages += n
	if err != nil {
		return res, err
	}
	n, err = p.deleteMessages(ctx, bus.StreamPages, res.Cutoff, func(data []byte) bool {
		var pg struct {
			URL string `json:"url"`
		}
		return json.Unmarshal(data, &pg) == nil && urls[pg.URL]
	})
	res.Messages += n
	if err != nil {
		return res, err
	}
	candidates := make([]string, 0, len(images))
	for sha := range images {
		candidates = append(candidates, sha)
	}
	purged, err := p.Index.Purge(ids, candidates, res.Cutoff)
	if err != nil {
		return res, err
	}
	res.Ads = len(purged.Ads)
	p.Metrics.Purged.WithLabelValues("ads").Add(float64(res.Ads))
	p.Metrics.Purged.WithLabelValues("messages").Add(float64(res.Messages))
	for u := range urls {
		key := record.SHA256Hex([]byte(u))[:40]
		if err := p.PageSums.Purge(ctx, key); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return res, fmt.Errorf("dropping a purged page's checksum: %w", err)
		}
	}
	for _, sha := range purged.Images {
		if inUse[sha] {
			continue
		}
		if err := p.Images.Delete(ctx, sha); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			return res, fmt.Errorf("deleting a purged image: %w", err)
		}
		if err := p.ImageHashes.Purge(ctx, sha); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return res, fmt.Errorf("dropping a purged image's hashes: %w", err)
		}
		res.Images++
		p.Metrics.Purged.WithLabelValues("images").Inc()
	}
	return res, nil
}

// holds are the ads and profiles a purge must keep.
type holds struct {
	ads, profiles map[string]bool
}

// held returns the ads and profiles under an open alert or in a case
// (open or closed: a closed case's evidence may still go to court).
func (p *Purger) held(ctx context.Context) (holds, error) {
	h := holds{ads: map[string]bool{}, profiles: map[string]bool{}}
	l := p.Index.Linker
	hold := func(profile string) { h.profiles[l.Resolve(profile)] = true }
	if p.Alerts != nil {
		list, err := alerts.List(ctx, p.JS, p.Alerts)
		if err != nil {
			return h, fmt.Errorf("reading the alerts a purge keeps: %w", err)
		}
		for _, a := range list {
			if !open(a.Status) {
				continue
			}
			for _, id := range a.Ads {
				h.ads[id] = true
				hold(l.Profile(id))
			}
			for _, id := range a.Profiles {
				hold(id)
			}
			if id, ok := strings.CutPrefix(a.Entity, "profile:"); ok {
				hold(id)
			}
			if id, ok := strings.CutPrefix(a.Entity, "ad:"); ok {
				h.ads[id] = true
				hold(l.Profile(id))
			}
		}
	}
	if p.Cases != nil {
		list, err := p.Cases.List(ctx)
		if err != nil {
			return h, fmt.Errorf("reading the cases a purge keeps: %w", err)
		}
		for _, c := range list {
			for _, id := range c.Profiles {
				hold(id)
			}
			for _, id := range c.Ads {
				h.ads[id] = true
			}
		}
	}
	delete(h.profiles, "")
	return h, nil
}

// open reports whether an alert's status still asks for work.
func open(status string) bool {
	return !slices.Contains([]string{record.StatusDismissed, record.StatusWithdrawn}, status)
}

// deleteMessages deletes the messages of a stream published before cutoff
// for which purge is true, and returns how many it deleted. Messages are
// in publication order, so the walk stops at the first one after cutoff.
func (p *Purger) deleteMessages(ctx context.Context, stream string, cutoff time.Time, purge func([]byte) bool) (int, error) {
	st, err := p.JS.Stream(ctx, stream)
	if err != nil {
		return 0, fmt.Errorf("opening stream %s: %w", stream, err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("reading stream %s: %w", stream, err)
	}
	n := 0
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && seq > 0; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("reading message %d of %s: %w", seq, stream, err)
		}
		if !m.Time.Before(cutoff) {
			break
		}
		if !purge(m.Data) {
			continue
		}
		if err := st.DeleteMsg(ctx, seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return n, fmt.Errorf("deleting message %d of %s: %w", seq, stream, err)
		}
		n++
	}
	return n, nil
}
