package auth

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSessions(t *testing.T) {
	type step struct {
		at      time.Duration // after t0, when the session was made
		action  string        // "lookup", "revoke", "disable"
		wantErr error
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"lookup", []step{{0, "lookup", nil}, {time.Minute, "lookup", nil}}},
		{"idle expiry", []step{{IdleTimeout - time.Second, "lookup", nil}, {2*IdleTimeout - 2*time.Second, "lookup", nil}, {3*IdleTimeout - 2*time.Second, "lookup", ErrNoSession}}},
		{"idle expiry without use", []step{{IdleTimeout, "lookup", ErrNoSession}, {IdleTimeout + time.Second, "lookup", ErrNoSession}}},
		{"absolute expiry", func() []step {
			var st []step
			for at := time.Duration(0); at < MaxLifetime; at += IdleTimeout - time.Minute {
				st = append(st, step{at, "lookup", nil})
			}
			return append(st, step{MaxLifetime, "lookup", ErrNoSession})
		}()},
		{"revoke", []step{{0, "lookup", nil}, {time.Minute, "revoke", nil}, {2 * time.Minute, "lookup", ErrNoSession}, {3 * time.Minute, "revoke", nil}}},
		{"disabled user", []step{{0, "lookup", nil}, {time.Minute, "disable", nil}, {2 * time.Minute, "lookup", ErrNoSession}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			ctx := t.Context()
			if err := s.Add(ctx, "lee.k", Supervisor, goodPassword); err != nil {
				t.Fatal(err)
			}
			u, err := s.Authenticate(ctx, "lee.k", goodPassword, t0)
			if err != nil {
				t.Fatal(err)
			}
			token, err := s.NewSession(ctx, u, t0)
			if err != nil {
				t.Fatal(err)
			}
			for i, st := range tc.steps {
				now := t0.Add(st.at)
				switch st.action {
				case "lookup":
					sess, err := s.Lookup(ctx, token, now)
					if !errors.Is(err, st.wantErr) {
						t.Fatalf("step %d: Lookup at +%v = %v, want %v", i, st.at, err, st.wantErr)
					}
					want := Session{User: "lee.k", Role: Supervisor, Created: t0, LastSeen: now}
					if err == nil && (sess.User != want.User || sess.Role != want.Role || !sess.Created.Equal(want.Created) || !sess.LastSeen.Equal(want.LastSeen)) {
						t.Errorf("step %d: Lookup = %+v, want %+v", i, sess, want)
					}
				case "revoke":
					if err := s.Revoke(ctx, token); err != nil {
						t.Fatalf("step %d: Revoke = %v", i, err)
					}
				case "disable":
					if err := s.Disable(ctx, "lee.k"); err != nil {
						t.Fatal(err)
					}
				}
			}
		})
	}
}

func TestLookupUnknownTokens(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	if err := s.Add(ctx, "lee.k", Analyst, goodPassword); err != nil {
		t.Fatal(err)
	}
	u, _ := s.Get(ctx, "lee.k")
	token, err := s.NewSession(ctx, u, t0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{"", "x", strings.Repeat("A", len(token)), token[1:], token + "A", sessionKey(token)} {
		if _, err := s.Lookup(ctx, tok, t0); !errors.Is(err, ErrNoSession) {
			t.Errorf("Lookup(%q) = %v, want ErrNoSession", tok, err)
		}
	}
	u.Disabled = true
	if _, err := s.NewSession(ctx, u, t0); !errors.Is(err, ErrDisabled) {
		t.Errorf("NewSession of a disabled user = %v, want ErrDisabled", err)
	}
}

// TestTokenNotStored scans the sessions bucket: the token appears in no
// key and no value, and its session is under the token's SHA-256.
func TestTokenNotStored(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	if err := s.Add(ctx, "lee.k", Investigator, goodPassword); err != nil {
		t.Fatal(err)
	}
	u, _ := s.Get(ctx, "lee.k")
	token, err := s.NewSession(ctx, u, t0)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) != 32 {
		t.Fatalf("token %q: %d bytes, %v; want 32 bytes of base64url", token, len(raw), err)
	}
	if _, err := s.Lookup(ctx, token, t0.Add(time.Minute)); err != nil { // a refresh writes it again
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(token))
	lister, err := s.sessions.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	if len(keys) != 1 || keys[0] != hex.EncodeToString(sum[:]) {
		t.Errorf("session keys %q, want the token's hex SHA-256 alone", keys)
	}
	for _, k := range keys {
		history, err := s.sessions.History(ctx, k) // every revision kept, not only the latest
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range history {
			for _, secret := range [][]byte{[]byte(token), raw, []byte(hex.EncodeToString(raw))} {
				if strings.Contains(k, string(secret)) || bytes.Contains(e.Value(), secret) {
					t.Errorf("the bucket holds the token: key %q value %q", k, e.Value())
				}
			}
		}
	}
}
