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
	st := &Stage{Bus: b, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: NewMetrics(nil), MinProfiles: 3}
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
	if a := list[0]; a.Rule != "shared_phone" || a.Status != StatusNew || len(a.Profiles) != 3 || a.Entity != "phone:+15108730123" {
		t.Fatalf("alert %+v", a)
	}

	// An investigator acknowledges it; new evidence reopens it.
	a := list[0]
	a.Status = StatusAcknowledged
	data, _ := json.Marshal(a)
	if _, err := b.AlertsKV.Put(ctx, a.Key, data); err != nil {
		t.Fatal(err)
	}
	publish("a4", "P4")
	waitFor("reopening", func(l []Alert) bool { return len(l) == 1 && l[0].Status == StatusNew && len(l[0].Profiles) == 4 })

	// Profiles merge until only two remain: the alert is withdrawn... but
	// it is new, so nobody acted on it and it is deleted.
	publish("a3", "P1")
	publish("a4", "P2")
	waitFor("deletion", func(l []Alert) bool { return len(l) == 0 })
}
