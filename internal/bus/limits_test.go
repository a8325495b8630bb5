package bus_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/adwatch/adwatch/internal/bus"
	"github.com/adwatch/adwatch/internal/bus/bustest"
)

// TestStreamFull: a stream at its limit refuses new messages, says so in
// a way StorageFull recognises, and keeps every message it took.
func TestStreamFull(t *testing.T) {
	b := bustest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.ApplyLimits(ctx, bus.Limits{Pages: 4096, Images: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	body := []byte(strings.Repeat("x", 1000))
	var full error
	taken := 0
	for range 10 {
		if _, err := b.JS.Publish(ctx, bus.SubjectPages+".s", body); err != nil {
			full = err
			break
		}
		taken++
	}
	if full == nil || !bus.StorageFull(full) {
		t.Fatalf("after %d messages: %v, want the stream full", taken, full)
	}
	st, err := b.JS.Stream(ctx, bus.StreamPages)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := st.Info(ctx)
	if int(info.State.Msgs) != taken || taken == 0 {
		t.Errorf("%d messages kept, %d taken", info.State.Msgs, taken)
	}
}
