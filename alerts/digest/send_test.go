package digest

import (
	"testing"
	"time"
)

// TestBackoff: the wait before redelivering a digest doubles from 500ms
// per delivery attempt and stops at MaxBackoff (5 minutes when unset).
func TestBackoff(t *testing.T) {
	for _, tc := range []struct {
		max     time.Duration
		attempt uint64
		want    time.Duration
	}{
		{0, 1, 500 * time.Millisecond},
		{0, 2, time.Second},
		{0, 4, 4 * time.Second},
		{0, 11, 5 * time.Minute},
		{0, 1000, 5 * time.Minute},
		{200 * time.Millisecond, 1, 200 * time.Millisecond},
		{3 * time.Second, 3, 2 * time.Second},
		{3 * time.Second, 4, 3 * time.Second},
	} {
		s := &Sender{MaxBackoff: tc.max}
		if got := s.backoff(tc.attempt); got != tc.want {
			t.Errorf("MaxBackoff %s: backoff(%d) = %s, want %s", tc.max, tc.attempt, got, tc.want)
		}
	}
}

// TestKeyPart pins the digest bucket's keys: stored "sent." and "last."
// keys must keep their names.
func TestKeyPart(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"vice-unit_2", "vice-unit_2"},
		{"Vice Unit", "Vice_Unit"},
		{"a.b:c/é", "a_b_c__"},
	} {
		if got := keyPart(tc.in); got != tc.want {
			t.Errorf("keyPart(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got, want := lastKey("Vice Unit"), "last.Vice_Unit"; got != want {
		t.Errorf("lastKey = %q, want %q", got, want)
	}
}
