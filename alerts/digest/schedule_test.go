package digest

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/adwatch/adwatch/alerts"
	"github.com/adwatch/adwatch/internal/bus"
	"github.com/adwatch/adwatch/internal/bus/bustest"
	"github.com/adwatch/adwatch/internal/record"
)

// queued returns the digests on the outbox.
func queued(t *testing.T, b *bus.Bus) []record.Digest {
	t.Helper()
	ctx := context.Background()
	st, err := b.JS.Stream(ctx, bus.StreamOutbox)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []record.Digest
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			continue
		}
		var d record.Digest
		if err := json.Unmarshal(m.Data, &d); err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

// TestSchedulerAcrossStops: a scheduler started after its unit's time
// passed with nobody running queues that digest once, at its first check;
// a second scheduler (a restart) and a second queueing of the same digest
// (a crash before its record) add nothing; a unit never sent a digest
// waits for its next time; the next day's digest comes at its time.
func TestSchedulerAcrossStops(t *testing.T) {
	ctx := context.Background()
	b := bustest.New(t)
	seed(t, b)
	units := []alerts.Unit{
		{Name: "alameda-vice", Cities: []string{"Oakland"}, MinSeverity: "medium", Schedule: "07:00", Timezone: "UTC", Webhook: "http://127.0.0.1:1/hook"},
		{Name: "new-unit", MinSeverity: "low", Schedule: "07:00", Timezone: "UTC", Webhook: "http://127.0.0.1:1/hook"},
	}
	day := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	// alameda-vice last had the digest of the 9th.
	last, _ := day.Add(-17 * time.Hour).MarshalText()
	if _, err := b.Digests.Put(ctx, lastKey("alameda-vice"), last); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	newScheduler := func() *Scheduler {
		return &Scheduler{Outbox: outbox(b), Units: units, Snap: snapshotter, Log: log}
	}
	s := newScheduler()
	s.Check(ctx, day.Add(9*time.Hour)) // started at 09:00: the 07:00 digest was missed
	got := queued(t, b)
	if len(got) != 1 || got[0].Unit != "alameda-vice" || !got[0].Until.Equal(day.Add(7*time.Hour)) || got[0].Total != 2 {
		t.Fatalf("after a start past the time: %+v, want alameda-vice's digest of 07:00 with its 2 alerts", got)
	}
	s.Check(ctx, day.Add(9*time.Hour+30*time.Second))
	newScheduler().Check(ctx, day.Add(9*time.Hour+time.Minute)) // a restart
	d, err := Build(ctx, outbox(b), units[0], "", snapshotter, day.Add(7*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != got[0].ID {
		t.Errorf("the same scheduled digest built again has id %s, first %s", d.ID, got[0].ID)
	}
	d.Alerts = got[0].Alerts
	if err := Queue(ctx, outbox(b), d); err != nil { // a crash between the outbox and the record
		t.Fatal(err)
	}
	if n := len(queued(t, b)); n != 1 {
		t.Errorf("%d digests queued after more checks, a restart and a repeat, want 1", n)
	}
	// The next day at 07:00 both units are due: new-unit's first digest.
	s.Check(ctx, day.Add(31*time.Hour+10*time.Second))
	got = queued(t, b)
	units2 := map[string]int{}
	for _, d := range got {
		units2[d.Unit]++
	}
	if len(got) != 3 || units2["alameda-vice"] != 2 || units2["new-unit"] != 1 {
		t.Errorf("the next day: %d digests %v, want one more for each unit", len(got), units2)
	}
}

// TestFirstDigestAcrossACrash: a unit first scheduled before its time, by
// a process that stops (or crashes) before that time and is started
// again after it, still gets that first digest.
func TestFirstDigestAcrossACrash(t *testing.T) {
	ctx := context.Background()
	b := bustest.New(t)
	seed(t, b)
	units := []alerts.Unit{{Name: "first-unit", MinSeverity: "low", Schedule: "07:00", Timezone: "UTC", Webhook: "http://127.0.0.1:1/hook"}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	day := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	(&Scheduler{Outbox: outbox(b), Units: units, Snap: snapshotter, Log: log}).Check(ctx, day.Add(6*time.Hour+59*time.Minute))
	if got := queued(t, b); len(got) != 0 {
		t.Fatalf("a digest before the unit's first time: %+v", got)
	}
	// Stopped at 06:59:30, started again at 07:05.
	(&Scheduler{Outbox: outbox(b), Units: units, Snap: snapshotter, Log: log}).Check(ctx, day.Add(7*time.Hour+5*time.Minute))
	got := queued(t, b)
	if len(got) != 1 || got[0].Unit != "first-unit" || !got[0].Until.Equal(day.Add(7*time.Hour)) {
		t.Fatalf("after a stop across the first digest's time: %+v, want first-unit's digest of 07:00", got)
	}
}
