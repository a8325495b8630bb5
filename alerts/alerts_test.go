package alerts

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/adwatch/adwatch/internal/bus"
	"github.com/adwatch/adwatch/internal/bus/bustest"
	"github.com/adwatch/adwatch/internal/record"
)

func TestSharedPhoneAlertLifecycle(t *testing.T) {
	b := bustest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	publish := func(ad, profile string) {
		t.Helper()
		data, _ := json.Marshal(record.ProfileUpdate{Ad: ad, Profile: profile, Phones: []string{"+15108730123"}})
		if _, err := b.JS.Publish(ctx, bus.SubjectProfileUpdates, data); err != nil {
			t.Fatal(err)
		}
	}
	_, rules, bad, err := ParseRules([]byte("rules:\n  - {name: shared_phone, severity: high, entity: phone, when: phone.profiles_in_window >= 3}\n"))
	if err != nil || len(bad) > 0 {
		t.Fatal(err, bad)
	}
	st := &Stage{JS: b.JS, Alerts: b.Alerts, Watchlist: b.Watchlist, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: NewMetrics(nil), Rules: rules, WindowDays: 30}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- st.Run(runCtx) }()
	defer func() { stop(); <-done }()

	waitFor := func(what string, ok func([]record.Alert) bool) []record.Alert {
		t.Helper()
		for ctx.Err() == nil {
			list, err := List(ctx, b.JS, b.Alerts)
			if err != nil {
				t.Fatal(err)
			}
			if ok(list) {
				return list
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("timed out waiting for %s", what)
		return nil
	}

	publish("a1", "P1")
	publish("a2", "P2")
	time.Sleep(700 * time.Millisecond)
	if list, _ := List(ctx, b.JS, b.Alerts); len(list) != 0 {
		t.Fatalf("two profiles raised %+v", list)
	}
	publish("a3", "P3")
	list := waitFor("the alert", func(l []record.Alert) bool { return len(l) == 1 })
	if a := list[0]; a.Rule != "shared_phone" || a.Status != record.StatusNew || len(a.Profiles) != 3 || a.Entity != "phone:+15108730123" || len(a.Ads) != 3 {
		t.Fatalf("alert %+v", a)
	}

	// An investigator acknowledges it; new evidence reopens it.
	if _, err := SetStatus(ctx, b.JS, b.Alerts, list[0].Key, record.StatusAcknowledged, "det. lee", "looked at it"); err != nil {
		t.Fatal(err)
	}
	if _, err := SetStatus(ctx, b.JS, b.Alerts, list[0].Key, "solved", "det. lee", ""); err == nil {
		t.Error("an unknown status was accepted")
	}
	publish("a4", "P4")
	reopened := waitFor("reopening", func(l []record.Alert) bool {
		return len(l) == 1 && l[0].Status == record.StatusNew && len(l[0].Profiles) == 4
	})
	if h := reopened[0].History; len(h) != 2 || h[0].By != "det. lee" || h[1].Note != "new evidence" {
		t.Errorf("history %+v", h)
	}

	// Profiles merge until only two remain: the rule stops firing; the
	// alert was acted on, so it is kept, withdrawn.
	publish("a3", "P1")
	publish("a4", "P2")
	waitFor("withdrawal", func(l []record.Alert) bool { return len(l) == 1 && l[0].Status == record.StatusWithdrawn })
}

func TestWatchlistRaisesAlert(t *testing.T) {
	b := bustest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	data, _ := os.ReadFile("../configs/alerts.yaml")
	f, rules, _, err := ParseRules(data)
	if err != nil {
		t.Fatal(err)
	}
	e, err := NormalizeWatch(WatchEntry{Kind: WatchPhone, Value: "(510) 873-0123", By: "det. lee"}, "US")
	if err != nil || e.Value != "+15108730123" {
		t.Fatalf("normalized %+v %v", e, err)
	}
	if err := AddWatch(ctx, b.Watchlist, e); err != nil {
		t.Fatal(err)
	}
	if _, err := NormalizeWatch(WatchEntry{Kind: WatchPhone, Value: "call me", By: "x"}, "US"); err == nil {
		t.Error("a watch on no phone was accepted")
	}
	st := &Stage{JS: b.JS, Alerts: b.Alerts, Watchlist: b.Watchlist, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: NewMetrics(nil), Rules: rules, WindowDays: f.WindowDays}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- st.Run(runCtx) }()
	defer func() { stop(); <-done }()
	for i, ph := range []string{"+14155526789", "+15108730123"} {
		data, _ := json.Marshal(record.ProfileUpdate{Ad: fmt.Sprint("a", i), Profile: fmt.Sprint("P", i), Phones: []string{ph}, City: "Oakland"})
		if _, err := b.JS.Publish(ctx, bus.SubjectProfileUpdates, data); err != nil {
			t.Fatal(err)
		}
	}
	for ctx.Err() == nil {
		list, _ := List(ctx, b.JS, b.Alerts)
		if len(list) == 1 && list[0].Rule == "watchlist" && list[0].Entity == "ad:a1" && strings.Contains(list[0].Summary, "+15108730123") {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("no watchlist alert for the watched phone")
}

// BenchmarkEvaluate measures one new ad evaluated against every shipped
// rule, in a state of 10,000 ads.
func BenchmarkEvaluate(b *testing.B) {
	data, _ := os.ReadFile("../configs/alerts.yaml")
	f, rules, _, err := ParseRules(data)
	if err != nil {
		b.Fatal(err)
	}
	s := &Stage{Rules: rules, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	s.st = newState(f.WindowDays, func(string) *time.Location { return time.UTC })
	t0 := time.Date(2020, 10, 1, 0, 0, 0, 0, time.UTC)
	mk := func(i int) record.ProfileUpdate {
		return record.ProfileUpdate{Ad: fmt.Sprint(i), Profile: fmt.Sprint("P", i/3), Phones: []string{fmt.Sprintf("+1510%07d", i/7)},
			City: []string{"Oakland", "San Jose", "Fresno"}[i%3], PostedAt: t0.Add(time.Duration(i) * time.Minute), Ages: []int{20 + i%10},
			Scores: map[string]float64{"youth": float64(i % 3)}}
	}
	for i := range 10_000 {
		s.st.apply(mk(i), map[string]bool{})
	}
	b.ReportAllocs()
	i := 10_000
	for b.Loop() {
		touched := map[string]bool{}
		s.st.apply(mk(i), touched)
		s.decide(touched)
		i++
	}
}

// lossyKV fails its first writes, as the alerts bucket does while its
// cluster elects a leader after losing a node.
type lossyKV struct {
	jetstream.KeyValue
	mu    sync.Mutex
	fails int
}

func (k *lossyKV) fail() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.fails == 0 {
		return nil
	}
	k.fails--
	return nats.ErrNoResponders
}

func (k *lossyKV) Put(ctx context.Context, key string, value []byte) (uint64, error) {
	if err := k.fail(); err != nil {
		return 0, err
	}
	return k.KeyValue.Put(ctx, key, value)
}

func (k *lossyKV) Create(ctx context.Context, key string, value []byte, opts ...jetstream.KVCreateOpt) (uint64, error) {
	if err := k.fail(); err != nil {
		return 0, err
	}
	return k.KeyValue.Create(ctx, key, value, opts...)
}

func (k *lossyKV) Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error) {
	if err := k.fail(); err != nil {
		return 0, err
	}
	return k.KeyValue.Update(ctx, key, value, rev)
}

// TestAlertsSurviveLostWrites: alert writes that fail (a NATS node lost)
// neither stop the stage nor lose the alert: it is written once the
// bucket answers.
func TestAlertsSurviveLostWrites(t *testing.T) {
	for _, fails := range []int{0, 3} {
		t.Run(fmt.Sprintf("%d failed writes", fails), func(t *testing.T) {
			b := bustest.New(t)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_, rules, bad, err := ParseRules([]byte("rules:\n  - {name: shared_phone, severity: high, entity: phone, when: phone.profiles_in_window >= 3}\n"))
			if err != nil || len(bad) > 0 {
				t.Fatal(err, bad)
			}
			kv := &lossyKV{KeyValue: b.Alerts, fails: fails}
			st := &Stage{JS: b.JS, Alerts: kv, Watchlist: b.Watchlist, Log: slog.New(slog.DiscardHandler), Metrics: NewMetrics(nil), Rules: rules, WindowDays: 30}
			runCtx, stop := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- st.Run(runCtx) }()
			for i, p := range []string{"P1", "P2", "P3"} {
				data, _ := json.Marshal(record.ProfileUpdate{Ad: fmt.Sprint("a", i), Profile: p, Phones: []string{"+15108730123"}})
				if _, err := b.JS.Publish(ctx, bus.SubjectProfileUpdates, data); err != nil {
					t.Fatal(err)
				}
			}
			for {
				if list, err := List(ctx, b.JS, b.Alerts); err == nil && len(list) == 1 && len(list[0].Profiles) == 3 {
					break
				}
				select {
				case err := <-done:
					t.Fatalf("the stage stopped: %v", err)
				case <-ctx.Done():
					t.Fatal("no alert after the bucket answered again")
				case <-time.After(50 * time.Millisecond):
				}
			}
			stop()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
			if kv.fails != 0 {
				t.Errorf("%d writes never tried", kv.fails)
			}
		})
	}
}

// laggingKV answers reads as a replica that has not caught up after a
// restart: every key not found, no key listed. Writes go to the bucket.
type laggingKV struct{ jetstream.KeyValue }

func (laggingKV) Get(context.Context, string) (jetstream.KeyValueEntry, error) {
	return nil, jetstream.ErrKeyNotFound
}

func (laggingKV) ListKeys(context.Context, ...jetstream.WatchOpt) (jetstream.KeyLister, error) {
	return nil, jetstream.ErrNoKeysFound
}

// TestLaggingReplicaLosesNoAlert: with reads answered by a replica that is
// behind, the stage neither overwrites an alert an investigator acted on
// (its history stays, and new evidence reopens it) nor leaves it out of
// the list: both ask the bucket's leader.
func TestLaggingReplicaLosesNoAlert(t *testing.T) {
	b := bustest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, rules, bad, err := ParseRules([]byte("rules:\n  - {name: shared_phone, severity: high, entity: phone, when: phone.profiles_in_window >= 3}\n"))
	if err != nil || len(bad) > 0 {
		t.Fatal(err, bad)
	}
	lag := laggingKV{b.Alerts}
	st := &Stage{JS: b.JS, Alerts: lag, Watchlist: b.Watchlist, Log: slog.New(slog.DiscardHandler), Metrics: NewMetrics(nil), Rules: rules, WindowDays: 30}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- st.Run(runCtx) }()
	defer func() { stop(); <-done }()
	publish := func(i int) {
		t.Helper()
		data, _ := json.Marshal(record.ProfileUpdate{Ad: fmt.Sprint("a", i), Profile: fmt.Sprint("P", i), Phones: []string{"+15108730123"}})
		if _, err := b.JS.Publish(ctx, bus.SubjectProfileUpdates, data); err != nil {
			t.Fatal(err)
		}
	}
	waitFor := func(what string, ok func(record.Alert) bool) record.Alert {
		t.Helper()
		for ctx.Err() == nil {
			if list, err := List(ctx, b.JS, lag); err == nil && len(list) == 1 && ok(list[0]) {
				return list[0]
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("timed out waiting for %s", what)
		return record.Alert{}
	}
	for i := range 3 {
		publish(i)
	}
	a := waitFor("the alert", func(a record.Alert) bool { return len(a.Profiles) == 3 })
	if list, err := List(ctx, nil, lag); err != nil || len(list) != 0 {
		t.Fatalf("the lagging replica alone lists %d alerts (%v); the test does not lag", len(list), err)
	}
	if _, err := SetStatus(ctx, b.JS, lag, a.Key, record.StatusAcknowledged, "det. lee", "looked at it"); err != nil {
		t.Fatal(err)
	}
	publish(3)
	a = waitFor("the new evidence", func(a record.Alert) bool { return len(a.Profiles) == 4 })
	if a.Status != record.StatusNew || len(a.History) != 2 || a.History[0].By != "det. lee" {
		t.Errorf("after new evidence read through a lagging replica: status %s, history %+v; want reopened with det. lee's acknowledgement kept", a.Status, a.History)
	}
}

// countingKV counts the reads of a bucket.
type countingKV struct {
	jetstream.KeyValue
	mu   sync.Mutex
	gets map[string]int
}

func (k *countingKV) Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error) {
	k.mu.Lock()
	k.gets[key]++
	k.mu.Unlock()
	return k.KeyValue.Get(ctx, key)
}

// TestAbsentAlertsNotRead: a rule that does not fire on an entity with no
// alert costs no read of the bucket, while an alert already in the bucket
// when the stage starts (a rule that no longer fires) is still retracted.
func TestAbsentAlertsNotRead(t *testing.T) {
	b := bustest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, rules, bad, err := ParseRules([]byte("rules:\n  - {name: shared_phone, severity: high, entity: phone, when: phone.profiles_in_window >= 3}\n"))
	if err != nil || len(bad) > 0 {
		t.Fatal(err, bad)
	}
	stale := alertKey("shared_phone", contactKey("+15108730100"))
	data, _ := json.Marshal(record.Alert{Key: stale, Rule: "shared_phone", Severity: "high", Entity: contactKey("+15108730100"), Status: record.StatusNew})
	if _, err := b.Alerts.Create(ctx, stale, data); err != nil {
		t.Fatal(err)
	}
	var last uint64
	for i := range 20 {
		data, _ := json.Marshal(record.ProfileUpdate{Ad: fmt.Sprint("a", i), Profile: fmt.Sprint("P", i), Phones: []string{fmt.Sprintf("+151087301%02d", i)}})
		ack, err := b.JS.Publish(ctx, bus.SubjectProfileUpdates, data)
		if err != nil {
			t.Fatal(err)
		}
		last = ack.Sequence
	}
	kv := &countingKV{KeyValue: b.Alerts, gets: map[string]int{}}
	st := &Stage{JS: b.JS, Alerts: kv, Watchlist: b.Watchlist, Log: slog.New(slog.DiscardHandler), Metrics: NewMetrics(nil), Rules: rules, WindowDays: 30}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- st.Run(runCtx) }()
	for st.Processed() < last && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := b.Alerts.Get(ctx, stale); err == nil {
		t.Errorf("the alert %s whose rule no longer fires was not retracted", stale)
	}
	kv.mu.Lock()
	defer kv.mu.Unlock()
	for key, n := range kv.gets {
		if key != stale {
			t.Errorf("alert %s read %d times; it was never in the bucket", key, n)
		}
	}
	if kv.gets[stale] != 1 {
		t.Errorf("the stale alert read %d times, want 1", kv.gets[stale])
	}
}
