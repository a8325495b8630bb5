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
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/adwatch/adwatch/internal/bus"
	"github.com/adwatch/adwatch/internal/record"
)

// sameEvidence reports whether two alerts show the same evidence.
func sameEvidence(a, b *record.Alert) bool {
	x, _ := json.Marshal([]any{a.Summary, a.AdCount, a.Ads, a.Profiles, a.Phones, a.Images, a.Cities, a.Terms})
	y, _ := json.Marshal([]any{b.Summary, b.AdCount, b.Ads, b.Profiles, b.Phones, b.Images, b.Cities, b.Terms})
	return string(x) == string(y)
}

// alertKey is the bucket key of a rule on an entity.
func alertKey(rule, entity string) string { return rule + "." + bus.KeyToken(entity) }

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
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return fmt.Errorf("reading profile updates: %w", err)
	}
	// Replay what is already in the stream before evaluating anything, so
	// that a restart writes no intermediate evidence.
	info, err := st.Info(ctx)
	if err != nil {
		return fmt.Errorf("reading profile updates: %w", err)
	}
	replayTo := info.State.LastSeq
	touched := map[string]bool{}
	watchRev := uint64(0)
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
		mb, err := cons.Fetch(500, jetstream.FetchMaxWait(500*time.Millisecond))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("reading profile updates: %w", err)
		}
		var last uint64
		s.mu.Lock()
		for m := range mb.Messages() {
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
		if err := mb.Error(); err != nil && ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) {
			s.Log.Warn("fetching profile updates", "err", err)
		}
		if last > 0 && last < replayTo {
			continue
		}
		start := time.Now()
		if err := s.evaluate(ctx, touched); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
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

// retract removes an alert whose rule no longer fires. An alert nobody has
// acted on is deleted; one with a status an investigator set is kept and
// marked withdrawn, so their work is not lost.
func (s *Stage) retract(ctx context.Context, key string) error {
	old, rev, err := get(ctx, s.Alerts, key)
	if err != nil || old == nil {
		return err
	}
	if old.Status == record.StatusNew && len(old.History) == 0 {
		if err := s.Alerts.Purge(ctx, key); err != nil {
			return fmt.Errorf("deleting alert %s: %w", key, err)
		}
		return nil
	}
	if old.Status == record.StatusWithdrawn {
		return nil
	}
	old.Status, old.Updated = record.StatusWithdrawn, time.Now().UTC()
	old.History = append(old.History, record.StatusChange{Status: record.StatusWithdrawn, By: "adwatch", At: old.Updated, Note: "the rule no longer fires"})
	return put(ctx, s.Alerts, old, rev)
}

// upsert writes a, keeping its status, history and first-seen time, only
// when the evidence changed. An acknowledged or withdrawn alert with new
// evidence reopens.
func (s *Stage) upsert(ctx context.Context, a record.Alert) error {
	now := time.Now().UTC()
	old, rev, err := get(ctx, s.Alerts, a.Key)
	if err != nil {
		return err
	}
	if old == nil {
		a.Status, a.FirstSeen, a.Updated = record.StatusNew, now, now
		s.Metrics.Raised.WithLabelValues(a.Rule).Inc()
		return put(ctx, s.Alerts, &a, 0)
	}
	if sameEvidence(old, &a) {
		return nil
	}
	a.Status, a.FirstSeen, a.Updated, a.History = old.Status, old.FirstSeen, now, old.History
	if old.Status == record.StatusAcknowledged || old.Status == record.StatusWithdrawn {
		a.Status = record.StatusNew
		a.History = append(a.History, record.StatusChange{Status: record.StatusNew, By: "adwatch", At: now, Note: "new evidence"})
	}
	s.Metrics.Updated.WithLabelValues(a.Rule).Inc()
	return put(ctx, s.Alerts, &a, rev)
}

// get reads one alert; nil when absent.
func get(ctx context.Context, kv jetstream.KeyValue, key string) (*record.Alert, uint64, error) {
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("reading alert %s: %w", key, err)
	}
	var a record.Alert
	if err := json.Unmarshal(e.Value(), &a); err != nil {
		return nil, 0, fmt.Errorf("decoding alert %s: %w", key, err)
	}
	return &a, e.Revision(), nil
}

// put writes an alert; with rev > 0 only over that revision, so a status
// an investigator set meanwhile is not overwritten (the write fails and
// the next evaluation retries).
func put(ctx context.Context, kv jetstream.KeyValue, a *record.Alert, rev uint64) error {
	data, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encoding alert: %w", err)
	}
	if rev > 0 {
		_, err = kv.Update(ctx, a.Key, data, rev)
	} else {
		_, err = kv.Put(ctx, a.Key, data)
	}
	if err != nil {
		return fmt.Errorf("writing alert %s: %w", a.Key, err)
	}
	return nil
}

// listJSON decodes every value of a bucket; values that do not decode
// are skipped.
func listJSON[T any](ctx context.Context, kv jetstream.KeyValue, what string) ([]T, error) {
	keys, err := kv.ListKeys(ctx)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", what, err)
	}
	var out []T
	for k := range keys.Keys() {
		e, err := kv.Get(ctx, k)
		if err != nil {
			continue
		}
		var v T
		if json.Unmarshal(e.Value(), &v) == nil {
			out = append(out, v)
		}
	}
	return out, nil
}

// ErrBadStatus is returned for a status an investigator cannot set.
var ErrBadStatus = errors.New("unknown status")

// SetStatus records an investigator's status change on an alert.
func SetStatus(ctx context.Context, kv jetstream.KeyValue, key, status, by, note string) (*record.Alert, error) {
	if !slices.Contains(record.Statuses, status) {
		return nil, fmt.Errorf("%w %q (one of %s)", ErrBadStatus, status, strings.Join(record.Statuses, ", "))
	}
	if strings.TrimSpace(by) == "" {
		return nil, errors.New("a status change needs who made it")
	}
	for range 5 {
		a, rev, err := get(ctx, kv, key)
		if err != nil {
			return nil, err
		}
		if a == nil {
			return nil, fmt.Errorf("no alert %s", key)
		}
		a.Status = status
		a.History = append(a.History, record.StatusChange{Status: status, By: by, At: time.Now().UTC(), Note: note})
		if err := put(ctx, kv, a, rev); err == nil {
			return a, nil
		}
	}
	return nil, fmt.Errorf("alert %s kept changing; try again", key)
}

// List returns every alert in the bucket: most severe first, then newest.
func List(ctx context.Context, kv jetstream.KeyValue) ([]record.Alert, error) {
	out, err := listJSON[record.Alert](ctx, kv, "alerts")
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool {
		if ri, rj := SeverityRank(out[i].Severity), SeverityRank(out[j].Severity); ri != rj {
			return ri < rj
		}
		if !out[i].Updated.Equal(out[j].Updated) {
			return out[i].Updated.After(out[j].Updated)
		}
		return out[i].Key < out[j].Key
	})
	return out, nil
}
