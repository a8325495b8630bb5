package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestLinesOffATerminal: away from a terminal a Bar writes a line per
// interval with the count, the total, the share and the rate, and a last
// line at Finish; nothing after it.
func TestLinesOffATerminal(t *testing.T) {
	var out bytes.Buffer
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := New(&out, "reindex", "messages", 1000, 10*time.Second)
	b.now = func() time.Time { return clock }
	b.start, b.last = clock, clock
	for i := range 10 {
		clock = clock.Add(3 * time.Second)
		b.Set(int64(100*(i+1)), 1000)
	}
	b.Finish()
	b.Set(5, 1000)
	b.Finish()
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := []string{
		"reindex: 400 of 1000 messages (40%), 33 messages/s",
		"reindex: 800 of 1000 messages (80%), 33 messages/s",
		"reindex: 1000 of 1000 messages (100%), 33 messages/s",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("lines:\n%s\nwant:\n%s", out.String(), strings.Join(want, "\n"))
	}
}

// TestUnknownTotal: without a total the line gives the count and rate.
func TestUnknownTotal(t *testing.T) {
	var out bytes.Buffer
	b := New(&out, "run", "ads", 0, time.Hour)
	b.Add(7)
	b.Add(5)
	b.Finish()
	if got := out.String(); !strings.HasPrefix(got, "run: 12 ads, ") || !strings.HasSuffix(got, " ads/s\n") {
		t.Errorf("line %q", got)
	}
	if IsTerminal(&out) {
		t.Error("a buffer is not a terminal")
	}
}

// TestFinishDoesNotRepeat: a Finish right after the line of the same
// count writes nothing more.
func TestFinishDoesNotRepeat(t *testing.T) {
	var out bytes.Buffer
	b := New(&out, "reindex", "messages", 10, 0)
	b.Set(10, 10)
	b.Finish()
	if n := strings.Count(out.String(), "\n"); n != 1 {
		t.Errorf("%d lines for one count:\n%s", n, out.String())
	}
}
