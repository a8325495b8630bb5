// Package alerts flags indicators that a unit must act on. An alert is
// state, not a message: one per rule and entity, kept in the alerts bucket,
// updated as new evidence arrives, with a status an investigator changes.
//
// Rules so far: "shared_phone" (one phone behind many profiles, the sign of
// third-party control).
package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/adwatch/adwatch/indexer"
	"github.com/adwatch/adwatch/internal/bus"
)

// Status of an alert.
const (
	StatusNew          = "new"
	StatusAcknowledged = "acknowledged"
	StatusDismissed    = "dismissed"
	StatusEscalated    = "escalated"
	// StatusWithdrawn marks an alert whose rule stopped firing after an
	// investigator had acted on it.
	StatusWithdrawn = "withdrawn"
)

// Alert is one rule firing on one entity, with its evidence.
type Alert struct {
	Key       string    `json:"key"`
	Rule      string    `json:"rule"`
	Severity  string    `json:"severity"`
	Entity    string    `json:"entity"`
	Summary   string    `json:"summary"`
	Status    string    `json:"status"`
	Profiles  []string  `json:"profiles"`
	Ads       []string  `json:"ads"`
	FirstSeen time.Time `json:"first_seen"`
	Updated   time.Time `json:"updated"`
}

// Metrics are the alert stage's Prometheus metrics.
type Metrics struct {
	Raised  *prometheus.CounterVec
	Updated *prometheus.CounterVec
	Updates prometheus.Counter
}

// NewMetrics registers the alert stage's metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Raised:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "adwatch_alerts_raised_total", Help: "Alerts raised, by rule."}, []string{"rule"}),
		Updated: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "adwatch_alerts_updated_total", Help: "Alerts updated with new evidence, by rule."}, []string{"rule"}),
		Updates: prometheus.NewCounter(prometheus.CounterOpts{Name: "adwatch_alerts_profile_updates_total", Help: "Profile updates evaluated."}),
	}
	if reg != nil {
		reg.MustRegister(m.Raised, m.Updated, m.Updates)
	}
	return m
}

// Stage evaluates the rules on the profile updates of the indexer.
type Stage struct {
	Bus     *bus.Bus
	Log     *slog.Logger
	Metrics *Metrics
	// MinProfiles: a phone in the ads of at least this many profiles
	// raises shared_phone.
	MinProfiles int

	mu      sync.Mutex
	seq     uint64
	ads     map[string]indexer.ProfileUpdate
	byPhone map[string]map[string]bool // phone -> ads
}

// Processed returns the last stream sequence evaluated.
func (s *Stage) Processed() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seq
}

// Run replays the profile updates from the start (rebuilding the state)
// and then follows them until ctx is done. Writing an alert is idempotent:
// an alert changes only when its evidence does.
func (s *Stage) Run(ctx context.Context) error {
	s.mu.Lock()
	s.ads = map[string]indexer.ProfileUpdate{}
	s.byPhone = map[string]map[string]bool{}
	s.mu.Unlock()
	st, err := s.Bus.JS.Stream(ctx, bus.StreamProfiles)
	if err != nil {
		return fmt.Errorf("opening profile updates: %w", err)
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return fmt.Errorf("reading profile updates: %w", err)
	}
	for ctx.Err() == nil {
		mb, err := cons.Fetch(500, jetstream.FetchMaxWait(500*time.Millisecond))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("reading profile updates: %w", err)
		}
		touched := map[string]bool{}
		var last uint64
		for m := range mb.Messages() {
			if meta, err := m.Metadata(); err == nil {
				last = meta.Sequence.Stream
			}
			var u indexer.ProfileUpdate
			if err := json.Unmarshal(m.Data(), &u); err != nil {
				s.Log.Error("profile update does not decode", "err", err)
				continue
			}
			s.apply(u, touched)
			s.Metrics.Updates.Inc()
		}
		if err := mb.Error(); err != nil && ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) {
			s.Log.Warn("fetching profile updates", "err", err)
		}
		if err := s.evaluate(ctx, touched); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if last > 0 {
			s.mu.Lock()
			s.seq = last
			s.mu.Unlock()
		}
	}
	return nil
}

func (s *Stage) apply(u indexer.ProfileUpdate, touched map[string]bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ads[u.Ad] = u
	for _, p := range u.Phones {
		if s.byPhone[p] == nil {
			s.byPhone[p] = map[string]bool{}
		}
		s.byPhone[p][u.Ad] = true
		touched[p] = true
	}
	// A merge changes the profile of other ads sharing these phones too;
	// re-evaluating the touched phones sees the current profiles.
}

// SharedPhone evaluates the shared-phone rule on one phone: the profiles
// and ads behind it, and whether it fires.
func (s *Stage) sharedPhone(phone string) (profiles, ads []string) {
	set := map[string]bool{}
	for id := range s.byPhone[phone] {
		set[s.ads[id].Profile] = true
		ads = append(ads, id)
	}
	for p := range set {
		profiles = append(profiles, p)
	}
	sort.Strings(profiles)
	sort.Strings(ads)
	return profiles, ads
}

func (s *Stage) evaluate(ctx context.Context, touched map[string]bool) error {
	phones := make([]string, 0, len(touched))
	for p := range touched {
		phones = append(phones, p)
	}
	sort.Strings(phones)
	for _, ph := range phones {
		s.mu.Lock()
		profiles, ads := s.sharedPhone(ph)
		s.mu.Unlock()
		key := "shared_phone." + strings.TrimPrefix(ph, "+")
		if len(profiles) < s.MinProfiles {
			// Profiles merged since: the rule no longer fires.
			if err := s.retract(ctx, key); err != nil {
				return err
			}
			continue
		}
		a := Alert{
			Key: key, Rule: "shared_phone", Severity: "high",
			Entity:   "phone:" + ph,
			Summary:  fmt.Sprintf("one phone in the ads of %d profiles (possible third-party control)", len(profiles)),
			Profiles: profiles, Ads: ads,
		}
		if err := s.upsert(ctx, a); err != nil {
			return err
		}
	}
	return nil
}

// retract removes an alert whose rule no longer fires. An alert nobody
// has acted on is deleted; one with a status an investigator set is kept
// and marked withdrawn, so their work is not lost.
func (s *Stage) retract(ctx context.Context, key string) error {
	e, err := s.Bus.AlertsKV.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading alert %s: %w", key, err)
	}
	var old Alert
	if err := json.Unmarshal(e.Value(), &old); err != nil {
		return fmt.Errorf("decoding alert %s: %w", key, err)
	}
	if old.Status == StatusNew {
		if err := s.Bus.AlertsKV.Purge(ctx, key); err != nil {
			return fmt.Errorf("deleting alert %s: %w", key, err)
		}
		return nil
	}
	if old.Status == StatusWithdrawn {
		return nil
	}
	old.Status, old.Updated = StatusWithdrawn, time.Now().UTC()
	data, err := json.Marshal(old)
	if err != nil {
		return fmt.Errorf("encoding alert: %w", err)
	}
	if _, err := s.Bus.AlertsKV.Put(ctx, key, data); err != nil {
		return fmt.Errorf("writing alert %s: %w", key, err)
	}
	return nil
}

// upsert writes a, keeping its status and first-seen time, only when the
// evidence changed. An acknowledged alert with new evidence reopens.
func (s *Stage) upsert(ctx context.Context, a Alert) error {
	now := time.Now().UTC()
	e, err := s.Bus.AlertsKV.Get(ctx, a.Key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		a.Status, a.FirstSeen, a.Updated = StatusNew, now, now
		s.Metrics.Raised.WithLabelValues(a.Rule).Inc()
	case err != nil:
		return fmt.Errorf("reading alert %s: %w", a.Key, err)
	default:
		var old Alert
		if err := json.Unmarshal(e.Value(), &old); err != nil {
			return fmt.Errorf("decoding alert %s: %w", a.Key, err)
		}
		if equal(old.Profiles, a.Profiles) && equal(old.Ads, a.Ads) {
			return nil
		}
		a.Status, a.FirstSeen, a.Updated = old.Status, old.FirstSeen, now
		if old.Status == StatusAcknowledged || old.Status == StatusWithdrawn {
			a.Status = StatusNew
		}
		s.Metrics.Updated.WithLabelValues(a.Rule).Inc()
	}
	data, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encoding alert: %w", err)
	}
	if _, err := s.Bus.AlertsKV.Put(ctx, a.Key, data); err != nil {
		return fmt.Errorf("writing alert %s: %w", a.Key, err)
	}
	return nil
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// List returns every alert in the bucket, newest first.
func List(ctx context.Context, kv jetstream.KeyValue) ([]Alert, error) {
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing alerts: %w", err)
	}
	var out []Alert
	for k := range keys.Keys() {
		e, err := kv.Get(ctx, k)
		if err != nil {
			continue
		}
		var a Alert
		if json.Unmarshal(e.Value(), &a) == nil {
			out = append(out, a)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Updated.After(out[j].Updated) })
	return out, nil
}
