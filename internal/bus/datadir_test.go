package bus

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestOneOwnerPerDataDir: a second process on a data dir connects to the
// owner's server instead of starting a second server on the same store;
// once the owner is gone, the next one owns it.
func TestOneOwnerPerDataDir(t *testing.T) {
	dir := t.TempDir()
	first, url, err := Open(dir, false, nil)
	if err != nil || first == nil {
		t.Fatalf("first open: %v %v", first, err)
	}
	second, url2, err := Open(dir, false, nil)
	if err != nil || second != nil || url2 != url {
		t.Fatalf("second open: owner %v, url %q (owner's %q), %v", second, url2, url, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	token, err := Token(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Without the data dir's token the server refuses.
	if b, err := Connect(ctx, url2, 1, Credentials{}); err == nil {
		b.Close()
		t.Fatal("connected to the embedded server without its token")
	}
	if b, err := Connect(ctx, url2, 1, Credentials{Token: "wrong"}); err == nil {
		b.Close()
		t.Fatal("connected to the embedded server with a wrong token")
	}
	b, err := Connect(ctx, url2, 1, Credentials{Token: token})
	if err != nil {
		t.Fatalf("connecting to the owner's server: %v", err)
	}
	if _, err := b.Watchlist.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	b.Close()
	first.Close()
	third, _, err := Open(dir, false, nil)
	if err != nil || third == nil {
		t.Fatalf("after the owner closed: %v %v", third, err)
	}
	defer third.Close()
	if fi, err := os.Stat(filepath.Join(dir, TokenFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("token file: %v %v, want owner-only", fi, err)
	}
	b, err = Connect(ctx, third.Server.ClientURL(), 1, Credentials{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if e, err := b.Watchlist.Get(ctx, "k"); err != nil || string(e.Value()) != "v" {
		t.Errorf("what was written through the owner is gone: %v", err)
	}
}
