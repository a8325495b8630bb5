package bus_test

import (
	"context"
	"fmt"
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
		msgs, err := bus.NextBatch(it, max, 300*time.Millisecond)
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

	consumers := 0
	for range st.ListConsumers(ctx).Info() {
		consumers++
	}
	if consumers != 1 {
		t.Errorf("%d consumers on the stream after five batches, want the one", consumers)
	}
}
