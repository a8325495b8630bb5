package bus_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/adwatch/adwatch/internal/bus"
	"github.com/adwatch/adwatch/internal/bus/bustest"
)

// TestLeaderGet: a value is read from the stream's leader as written, the
// latest revision; a key never written and a deleted one are "not found".
func TestLeaderGet(t *testing.T) {
	b := bustest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, v := range []string{"first", "second"} {
		if _, err := b.Digests.Put(ctx, "delivered.d1.webhook", []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	got, rev, err := bus.LeaderGet(ctx, b.JS, bus.BucketDigests, "delivered.d1.webhook")
	if err != nil || string(got) != "second" {
		t.Fatalf("LeaderGet = %q, %v; want the latest value", got, err)
	}
	if e, err := b.Digests.Get(ctx, "delivered.d1.webhook"); err != nil || e.Revision() != rev {
		t.Errorf("LeaderGet's revision %d, the bucket's %v (%v)", rev, e, err)
	}
	if v, r, err := bus.GetConsistent(ctx, b.JS, b.Digests, "delivered.d1.webhook"); err != nil || string(v) != "second" || r != rev {
		t.Errorf("GetConsistent = %q at %d, %v; want the latest value at %d", v, r, err, rev)
	}
	if _, _, err := bus.LeaderGet(ctx, b.JS, bus.BucketDigests, "delivered.none.webhook"); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Errorf("a key never written: %v, want not found", err)
	}
	if err := b.Digests.Delete(ctx, "delivered.d1.webhook"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := bus.LeaderGet(ctx, b.JS, bus.BucketDigests, "delivered.d1.webhook"); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Errorf("a deleted key: %v, want not found", err)
	}
}

// TestLeaderKeys: the leader's listing names every key written, in order,
// including one deleted (which GetConsistent then reports not found), and
// matches kv.ListKeys on a single server; an empty bucket lists nothing.
func TestLeaderKeys(t *testing.T) {
	b := bustest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, js := range []jetstream.JetStream{b.JS, nil} {
		if keys, err := bus.LeaderKeys(ctx, js, b.Alerts); err != nil || len(keys) != 0 {
			t.Fatalf("an empty bucket: %v, %v", keys, err)
		}
	}
	for _, k := range []string{"shared_phone.b", "possible_minor.a", "shared_phone.a"} {
		if _, err := b.Alerts.Put(ctx, k, []byte("{}")); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Alerts.Purge(ctx, "shared_phone.b"); err != nil {
		t.Fatal(err)
	}
	keys, err := bus.LeaderKeys(ctx, b.JS, b.Alerts)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"possible_minor.a", "shared_phone.a", "shared_phone.b"}
	if !slices.Equal(keys, want) {
		t.Errorf("LeaderKeys = %v, want %v", keys, want)
	}
	if _, _, err := bus.GetConsistent(ctx, b.JS, b.Alerts, "shared_phone.b"); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Errorf("the purged key listed reads %v, want not found", err)
	}
	plain, err := bus.LeaderKeys(ctx, nil, b.Alerts)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(plain, want[:2]) {
		t.Errorf("LeaderKeys without js = %v, want %v", plain, want[:2])
	}
}
