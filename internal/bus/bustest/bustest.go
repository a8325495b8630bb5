// Package bustest gives tests a real embedded JetStream server with
// adwatch's streams and buckets, stopped when the test ends.
package bustest

import (
	"context"
	"testing"

	"github.com/adwatch/adwatch/internal/bus"
)

// New starts an embedded server in a temporary directory and connects.
func New(t testing.TB) *bus.Bus {
	t.Helper()
	ns, err := bus.Embedded(t.TempDir(), false, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	b, err := bus.Connect(context.Background(), ns.ClientURL(), 1, bus.Credentials{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}
