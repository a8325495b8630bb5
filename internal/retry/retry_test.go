package retry

import (
	"net/http"
	"testing"
	"time"
)

func TestWait(t *testing.T) {
	b := Backoff{Base: 500 * time.Millisecond, Max: 5 * time.Minute}
	for _, tc := range []struct {
		attempt int
		header  string
		want    time.Duration
	}{
		{0, "", 500 * time.Millisecond},
		{1, "", time.Second},
		{9, "", 256 * time.Second},
		{10, "", 5 * time.Minute},
		{1000, "", 5 * time.Minute}, // no overflow
		{0, "3", 3 * time.Second},
		{0, "0", 0},
		{0, "99999", MaxRetryAfter},
		{3, "-1", 4 * time.Second},
		{3, "garbage", 4 * time.Second},
		{0, time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat), 0},
	} {
		if got := b.Wait(tc.attempt, tc.header); got != tc.want {
			t.Errorf("Wait(%d, %q) = %s, want %s", tc.attempt, tc.header, got, tc.want)
		}
	}
}

func TestAfterDate(t *testing.T) {
	d, ok := After(time.Now().Add(time.Minute).UTC().Format(http.TimeFormat))
	if !ok || d <= 55*time.Second || d > time.Minute {
		t.Errorf("After(a minute from now) = %s, %v; want about a minute, true", d, ok)
	}
	if d, ok := After(""); ok || d != 0 {
		t.Errorf("After(\"\") = %s, %v; want 0, false", d, ok)
	}
}
