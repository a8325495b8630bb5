package bus_test

import (
	"context"
	"testing"
	"time"

	"github.com/adwatch/adwatch/internal/bus"
	"github.com/adwatch/adwatch/internal/bus/bustest"
)

// TestDigestsReadFromLeader: the buckets that say whether a digest went
// out, the alerts and the watchlist answer through their stream's leader
// (a replica a moment behind would have a digest sent twice), the hot
// buckets from any replica; and a
// record written is read back at once.
func TestDigestsReadFromLeader(t *testing.T) {
	b := bustest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for bucket, direct := range map[string]bool{bus.BucketDigests: false, bus.BucketAlerts: false, bus.BucketWatchlist: false, bus.BucketImageHash: true, bus.BucketCrawl: true} {
		st, err := b.JS.Stream(ctx, "KV_"+bucket)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.CachedInfo().Config.AllowDirect; got != direct {
			t.Errorf("bucket %s: direct gets %v, want %v", bucket, got, direct)
		}
	}
	if _, err := b.Digests.Put(ctx, "delivered.d1.webhook", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if e, err := b.Digests.Get(ctx, "delivered.d1.webhook"); err != nil || string(e.Value()) != "1" {
		t.Fatalf("read back: %v", err)
	}
}
