package bus

import (
	"context"
	"testing"
	"time"
)

// TestOneOwnerPerDataDir: a second process on a data dir connects to the
// owner's server instead of starting a second server on the same store;
// once the owner is gone, the next one owns it.
func TestOneOwnerPerDataDir(t *testing.T) {
	dir := t.TempDir()
	first, url, err := Open(dir, false)
	if err != nil || first == nil {
		t.Fatalf("first open: %v %v", first, err)
	}
	second, url2, err := Open(dir, false)
	if err != nil || second != nil || url2 != url {
		t.Fatalf("second open: owner %v, url %q (owner's %q), %v", second, url2, url, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := Connect(ctx, url2, 1)
	if err != nil {
		t.Fatalf("connecting to the owner's server: %v", err)
	}
	if _, err := b.Watchlist.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	b.Close()
	first.Close()
	third, _, err := Open(dir, false)
	if err != nil || third == nil {
		t.Fatalf("after the owner closed: %v %v", third, err)
	}
	defer third.Close()
	b, err = Connect(ctx, third.Server.ClientURL(), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if e, err := b.Watchlist.Get(ctx, "k"); err != nil || string(e.Value()) != "v" {
		t.Errorf("what was written through the owner is gone: %v", err)
	}
}
