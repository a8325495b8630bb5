package alerts

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/adwatch/adwatch/indexer"
	"github.com/adwatch/adwatch/internal/bus"
)

func TestSharedPhoneAlertLifecycle(t *testing.T) {
	ns, err := bus.Embedded(t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := bus.Connect(ctx, ns.ClientURL(), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	publish := func(ad, profile string) {
		t.Helper()
		data, _ := json.Marshal(indexer.ProfileUpdate{Ad: ad, Profile: profile, Phones: []string{"+15108730123"}})
		if _, err := b.JS.Publish(ctx, bus.SubjectProfileUpdates, data); err != nil {
			t.Fatal(err)
		}
	}
	_, rules, bad, err := ParseRules([]byte("rules:\n  - {name: shared_phone, severity: high, entity: phone, when: phone.profiles_in_window >= 3}\n"))
	if err != nil || len(bad) > 0 {
		t.Fatal(err, bad)
	}
	st := &Stage{Bus: b, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: NewMetrics(nil), Rules: rules, WindowDays: 30}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- st.Run(runCtx) }()
	defer func() { stop(); <-done }()

	waitFor := func(what string, ok func([]Alert) bool) []Alert {
		t.Helper()
		for ctx.Err() == nil {
			list, err := List(ctx, b.AlertsKV)
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
	if list, _ := List(ctx, b.AlertsKV); len(list) != 0 {
		t.Fatalf("two profiles raised %+v", list)
	}
	publish("a3", "P3")
	list := waitFor("the alert", func(l []Alert) bool { return len(l) == 1 })
	if a := list[0]; a.Rule != "shared_phone" || a.Status != StatusNew || len(a.Profiles) != 3 || a.Entity != "phone:+15108730123" || len(a.Ads) != 3 {
		t.Fatalf("alert %+v", a)
	}

	// An investigator acknowledges it; new evidence reopens it.
	if _, err := SetStatus(ctx, b.AlertsKV, list[0].Key, StatusAcknowledged, "det. lee", "looked at it"); err != nil {
		t.Fatal(err)
	}
	if _, err := SetStatus(ctx, b.AlertsKV, list[0].Key, "solved", "det. lee", ""); err == nil {
		t.Error("an unknown status was accepted")
	}
	publish("a4", "P4")
	reopened := waitFor("reopening", func(l []Alert) bool { return len(l) == 1 && l[0].Status == StatusNew && len(l[0].Profiles) == 4 })
	if h := reopened[0].History; len(h) != 2 || h[0].By != "det. lee" || h[1].Note != "new evidence" {
		t.Errorf("history %+v", h)
	}

	// Profiles merge until only two remain: the rule stops firing; the
	// alert was acted on, so it is kept, withdrawn.
	publish("a3", "P1")
	publish("a4", "P2")
	waitFor("withdrawal", func(l []Alert) bool { return len(l) == 1 && l[0].Status == StatusWithdrawn })
}
