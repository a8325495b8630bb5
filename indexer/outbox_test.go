package indexer

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/adwatch/adwatch/internal/bus"
	"github.com/adwatch/adwatch/internal/bus/bustest"
	"github.com/adwatch/adwatch/internal/record"
)

// TestCrashBetweenIndexAndPublish: the index batch is written and the
// process dies before the profile updates are published. After a restart
// the redelivered ads are already indexed, yet their updates (and those of
// the ads linking moved) are published, once, and the outbox is empty.
func TestCrashBetweenIndexAndPublish(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2020, 10, 2, 12, 0, 0, 0, time.UTC)
	ads := []record.Ad{
		{ID: "s:1", City: "Oakland", PostedAt: at, PageSHA256: "1", Phones: []record.Phone{{E164: "+15108730123"}}},
		{ID: "s:2", City: "Oakland", PostedAt: at, PageSHA256: "2", Phones: []record.Phone{{E164: "+15108730123"}}},
		{ID: "s:3", City: "Fresno", PostedAt: at, PageSHA256: "3", Phones: []record.Phone{{E164: "+15595550123"}}},
	}
	x, err := Open(dir, 8, 25, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x.Put(ads); err != nil {
		t.Fatal(err)
	}
	// The crash: no publish, no Published.
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	x, err = Open(dir, 8, 25, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := x.Unpublished(); !slices.Equal(got, []string{"s:1", "s:2", "s:3"}) {
		t.Fatalf("unpublished after the crash: %v", got)
	}

	// The ads come again (they were never acknowledged).
	b := bustest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, a := range ads {
		data, _ := json.Marshal(a)
		if _, err := b.JS.Publish(ctx, bus.SubjectAds+".s", data); err != nil {
			t.Fatal(err)
		}
	}
	st := &Stage{Index: x, JS: b.JS, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: NewMetrics(nil)}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- st.Run(rctx) }()
	stream, err := b.JS.Stream(ctx, bus.StreamProfiles)
	if err != nil {
		t.Fatal(err)
	}
	for {
		info, err := stream.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs >= 3 && len(x.Unpublished()) == 0 {
			if info.State.Msgs != 3 {
				t.Errorf("%d profile updates, want one per ad", info.State.Msgs)
			}
			break
		}
		if ctx.Err() != nil {
			stop()
			<-done
			x.Close()
			t.Fatalf("updates after the restart: %d, unpublished %v", info.State.Msgs, x.Unpublished())
		}
		time.Sleep(50 * time.Millisecond)
	}
	var seen []string
	for seq := uint64(1); seq <= 3; seq++ {
		m, err := stream.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		var u record.ProfileUpdate
		_ = json.Unmarshal(m.Data, &u)
		seen = append(seen, u.Ad)
	}
	slices.Sort(seen)
	if !slices.Equal(seen, []string{"s:1", "s:2", "s:3"}) {
		t.Errorf("updates for %v", seen)
	}
	stop()
	if err := <-done; err != nil {
		t.Error(err)
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	x, err = Open(dir, 8, 25, false)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if got := x.Unpublished(); len(got) != 0 {
		t.Errorf("unpublished after the updates went out: %v", got)
	}
}
