// Package alerts flags the indicators a unit must act on. Rules
// (configs/alerts.yaml) are expressions over documented facts of an ad, a
// profile, a phone or a city day; an alert is state, not a message: one
// per rule and entity, kept in the alerts bucket, updated as new evidence
// arrives, with a status an investigator changes.
//
// The stage replays the indexer's profile updates from the start to
// rebuild what it knows, then follows them; each update re-evaluates only
// the entities it touched. Writing an alert is idempotent: it changes only
// when its evidence does, so a second run raises nothing new.
package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/adwatch/adwatch/internal/bus"
	"github.com/adwatch/adwatch/internal/record"
)

// Metrics are the alert stage's Prometheus metrics.
type Metrics struct {
	Raised  *prometheus.CounterVec
	Updated *prometheus.CounterVec
	Updates prometheus.Counter
	Eval    prometheus.Histogram
}

// NewMetrics registers the alert stage's metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Raised:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "adwatch_alerts_raised_total", Help: "Alerts raised, by rule."}, []string{"rule"}),
		Updated: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "adwatch_alerts_updated_total", Help: "Alerts updated with new evidence, by rule."}, []string{"rule"}),
		Updates: prometheus.NewCounter(prometheus.CounterOpts{Name: "adwatch_alerts_profile_updates_total", Help: "Profile updates evaluated."}),
		Eval: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "adwatch_alerts_batch_seconds", Help: "Time to evaluate the rules on one batch of updates.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
	}
	if reg != nil {
		reg.MustRegister(m.Raised, m.Updated, m.Updates, m.Eval)
	}
	return m
}

// Stage evaluates the rules on the profile updates of the indexer.
type Stage struct {
	// JS reads the profile updates.
	JS jetstream.JetStream
	// Alerts stores the alerts; Watchlist is what investigators watch for.
	Alerts, Watchlist jetstream.KeyValue
	Log               *slog.Logger
	Metrics           *Metrics
	Rules             []Rule
	// WindowDays is the D of "within D days".
	WindowDays int
	// Location returns a city's time zone.
	Location func(city string) *time.Location
	// PHashThreshold is the perceptual hash distance within which a
	// watched photo matches an ad's (linking.phash_threshold; 8 when 0).
	PHashThreshold int

	mu  sync.Mutex
	seq uint64
	st  *state
	// present holds the keys of the alerts in the bucket, listed from its
	// leader at the first evaluation and kept by the stage's own writes
	// (nil until listed; used by Run's goroutine alone). This stage is
	// the only writer that creates or deletes an alert (the alerts role is
	// single), so a rule that does not fire on an entity whose key is not
	// here has nothing to retract, and costs no read.
	present map[string]bool
}

// Processed returns the last stream sequence evaluated.
func (s *Stage) Processed() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seq
}

// Run replays the profile updates from the start (rebuilding the state)
// and then follows them until ctx is done.
func (s *Stage) Run(ctx context.Context) error {
	loc := s.Location
	if loc == nil {
		loc = func(string) *time.Location { return time.UTC }
	}
	s.mu.Lock()
	s.st = newState(max(s.WindowDays, 1), loc)
	if s.PHashThreshold > 0 {
		s.st.phashThreshold = s.PHashThreshold
	}
	s.mu.Unlock()
	st, err := s.JS.Stream(ctx, bus.StreamProfiles)
	if err != nil {
		return fmt.Errorf("opening profile updates: %w", err)
	}
	// One iterator for the life of the stage: it keeps one consumer on
	// the server and recreates it only when it is lost (a node down).
	it, err := follow(ctx, st, 0)
	if err != nil {
		return fmt.Errorf("reading profile updates: %w", err)
	}
	defer func() { it.Stop() }()
	// Replay what is already in the stream before evaluating anything, so
	// that a restart writes no intermediate evidence.
	info, err := st.Info(ctx)
	if err != nil {
		return fmt.Errorf("reading profile updates: %w", err)
	}
	replayTo := info.State.LastSeq
	// replayed turns true once every update up to replayTo is applied; a
	// fetch that comes back empty meanwhile (a slow server) must not
	// evaluate a half-built state.
	replayed := replayTo == 0
	touched := map[string]bool{}
	// last is the sequence of the last update applied, evaluated once
	// touched is.
	var last uint64
	watchRev := uint64(0)
	// quietSince is when the iterator last delivered (or failed).
	quietSince := time.Now()
	for ctx.Err() == nil {
		if rev, entries, err := loadWatchlist(ctx, s.Watchlist); err == nil && rev != watchRev {
			watchRev = rev
			s.mu.Lock()
			s.st.watch = entries
			for id := range s.st.ads {
				touched[adKey(id)] = true
			}
			s.mu.Unlock()
		}
		msgs, err := bus.NextBatch(it, 500, 500*time.Millisecond, 100*time.Millisecond)
		if len(msgs) > 0 || err != nil {
			quietSince = time.Now()
		} else if time.Since(quietSince) > stallAfter {
			// Nothing came for a while: the consumer may sit on a replica
			// that is still catching up after a restart (the cluster
			// places it on any replica), delivering nothing new. When the
			// stream's leader holds updates past the last applied one,
			// the iterator is opened again, on a replica chosen afresh.
			quietSince = time.Now()
			if info, ierr := st.Info(ctx); ierr == nil && info.State.LastSeq > last {
				s.Log.Warn("profile updates stalled; reading them again", "applied", last, "stream", info.State.LastSeq)
				if next, ferr := follow(ctx, st, last); ferr == nil {
					it.Stop()
					it = next
				}
			}
		}
		s.mu.Lock()
		for _, m := range msgs {
			if meta, err := m.Metadata(); err == nil {
				last = meta.Sequence.Stream
			}
			var u record.ProfileUpdate
			if err := json.Unmarshal(m.Data(), &u); err != nil {
				s.Log.Error("profile update does not decode", "err", err)
				continue
			}
			s.st.apply(u, touched)
			s.Metrics.Updates.Inc()
		}
		s.mu.Unlock()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			// The iterator has already tried to recreate its consumer
			// (a cluster electing a leader, a node down); one that has
			// stopped is opened again after the last update applied.
			s.Log.Warn("reading profile updates failed; trying again", "err", err)
			pause(ctx, time.Second)
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				if next, err := follow(ctx, st, last); err == nil {
					it.Stop()
					it = next
				}
			}
			continue
		}
		if last >= replayTo {
			replayed = true
		}
		if !replayed {
			continue
		}
		start := time.Now()
		if err := s.evaluate(ctx, touched); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			// The alerts bucket out of reach (a node lost): the same
			// entities are evaluated again, which rewrites what was
			// written already to the same.
			s.Log.Error("writing alerts failed; evaluating again", "entities", len(touched), "err", err)
			pause(ctx, time.Second)
			continue
		}
		if len(touched) > 0 {
			s.Metrics.Eval.Observe(time.Since(start).Seconds())
		}
		touched = map[string]bool{}
		if last > 0 {
			s.mu.Lock()
			s.seq = last
			s.mu.Unlock()
		}
	}
	return nil
}

// stallAfter is how long the stage waits for a profile update before it
// asks the stream's leader whether it is behind.
const stallAfter = 10 * time.Second

// follow opens an iterator over the profile updates after the sequence
// after (0: from the first), stopped when ctx is done, even while it is
// recreating a lost consumer.
func follow(ctx context.Context, st jetstream.Stream, after uint64) (jetstream.MessagesContext, error) {
	cfg := jetstream.OrderedConsumerConfig{}
	if after > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, after+1
	}
	cons, err := st.OrderedConsumer(ctx, cfg)
	if err != nil {
		return nil, err
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(500))
	if err != nil {
		return nil, err
	}
	context.AfterFunc(ctx, it.Stop)
	return it, nil
}

// pause waits d or until ctx is done.
func pause(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// Decision is one rule's verdict on one entity.
type Decision struct {
	Alert record.Alert
	Fires bool
}

// decide evaluates every rule of the touched entities' kinds.
func (s *Stage) decide(touched map[string]bool) []Decision {
	keys := sortedSet(touched)
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Decision
	for _, key := range keys {
		env, kind, ok := s.st.env(key)
		for i := range s.Rules {
			r := &s.Rules[i]
			if r.Entity != kind {
				continue
			}
			a := record.Alert{Key: alertKey(r.Name, key), Rule: r.Name, Severity: r.Severity, Entity: key}
			fires := false
			if ok {
				var err error
				fires, err = r.Eval(env)
				if err != nil {
					s.Log.Warn("rule failed", "rule", r.Name, "err", err)
					continue
				}
			}
			if fires {
				a.Summary = summary(r, env)
				ads := s.st.entityAds(key)
				if kind == EntityCity {
					ads = nil
				}
				s.st.evidence(&a, ads)
				if kind == EntityCity {
					a.Cities = []string{env.City.Name}
				}
			}
			out = append(out, Decision{Alert: a, Fires: fires})
		}
	}
	return out
}

func (s *Stage) evaluate(ctx context.Context, touched map[string]bool) error {
	if len(touched) == 0 {
		return nil
	}
	if s.present == nil {
		keys, err := bus.LeaderKeys(ctx, s.JS, s.Alerts)
		if err != nil {
			return fmt.Errorf("listing the alerts: %w", err)
		}
		s.present = make(map[string]bool, len(keys))
		for _, k := range keys {
			s.present[k] = true
		}
	}
	for _, d := range s.decide(touched) {
		var err error
		if d.Fires {
			err = s.upsert(ctx, d.Alert)
		} else {
			err = s.retract(ctx, d.Alert.Key)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
