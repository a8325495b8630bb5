package bus_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/adwatch/adwatch/internal/bus"
	"github.com/adwatch/adwatch/internal/bus/bustest"
)

// TestNextBatch: batches come whole and in order, a wait with nothing new
// is an empty batch and no error, and the iterator keeps one consumer on
// the server however many batches it reads (a Fetch on an ordered
// consumer creates one per call).
func TestNextBatch(t *testing.T) {
	b := bustest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	publish := func(from, to int) {
		for i := from; i < to; i++ {
			if _, err := b.JS.Publish(ctx, bus.SubjectAds+".x", fmt.Appendf(nil, "%d", i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	publish(0, 25)
	st, err := b.JS.Stream(ctx, bus.StreamAds)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	it, err := cons.Messages()
	if err != nil {
		t.Fatal(err)
	}
	defer it.Stop()

	next := 0
	read := func(max, want int) {
		t.Helper()
		msgs, err := bus.NextBatch(it, max, 300*time.Millisecond, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != want {
			t.Fatalf("batch of %d, want %d", len(msgs), want)
		}
		for _, m := range msgs {
			if got := string(m.Data()); got != fmt.Sprint(next) {
				t.Fatalf("message %q, want %d", got, next)
			}
			next++
		}
	}
	read(10, 10)
	read(10, 10)
	read(10, 5) // the wait ends the batch
	read(10, 0) // nothing new: no error
	publish(25, 28)
	read(10, 3)
	// With quiet, a burst ends the batch: not the wait of a minute.
	publish(28, 31)
	begin := time.Now()
	msgs, err := bus.NextBatch(it, 10, time.Minute, time.Second)
	if err != nil || len(msgs) != 3 {
		t.Fatalf("a burst of 3 with quiet: %d messages (%v)", len(msgs), err)
	}
	if d := time.Since(begin); d > 30*time.Second {
		t.Errorf("a burst of 3 with quiet came after %v", d)
	}

	consumers := 0
	for range st.ListConsumers(ctx).Info() {
		consumers++
	}
	if consumers != 1 {
		t.Errorf("%d consumers on the stream after six batches, want the one", consumers)
	}
}

// TestConsumerAcknowledgesQuietly: a batch handled without error is
// acknowledged, nothing comes again, and sending the acknowledgements
// logs no failure (their flush needs a deadline of its own).
func TestConsumerAcknowledgesQuietly(t *testing.T) {
	b := bustest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := range 20 {
		if _, err := b.JS.Publish(ctx, bus.SubjectPages+".site", fmt.Appendf(nil, "%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	var logs bytes.Buffer
	var mu sync.Mutex
	seen := map[string]int{}
	c := bus.Consumer{Stream: bus.StreamPages, Durable: "quiet", Batch: 8, Stage: "test",
		Log: slog.New(slog.NewTextHandler(&logs, nil))}
	// A stage's context has no deadline, as in adwatch run.
	rctx, rcancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- c.Run(rctx, b.JS, func(_ context.Context, msgs []jetstream.Msg) []error {
			mu.Lock()
			defer mu.Unlock()
			for _, m := range msgs {
				seen[string(m.Data())]++
			}
			return make([]error, len(msgs))
		})
	}()
	for ctx.Err() == nil {
		if n, err := bus.Pending(ctx, b.JS, bus.StreamPages, "quiet"); err == nil && n == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	rcancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 20 {
		t.Errorf("%d messages handled, want 20", len(seen))
	}
	for m, n := range seen {
		if n != 1 {
			t.Errorf("message %s handled %d times", m, n)
		}
	}
	if strings.Contains(logs.String(), "failed") {
		t.Errorf("acknowledging logged a failure:\n%s", logs.String())
	}
}
