// Package progress shows how far a long command has come: a progress bar
// (schollz/progressbar) when its output is a terminal, and otherwise a
// plain line at a fixed interval, for a log file, a pipe or CI.
package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Bar reports the progress of one piece of work. Its methods may be
// called from several goroutines.
type Bar struct {
	mu    sync.Mutex
	w     io.Writer
	what  string
	unit  string
	every time.Duration
	start time.Time
	last  time.Time
	done  int64
	total int64 // 0: not known
	shown int64 // done at the last line written (-1: none)
	ended bool
	bar   *progressbar.ProgressBar
	// now is the clock (time.Now), replaced by tests.
	now func() time.Time
}

// New starts reporting on w the progress of what, counted in unit
// ("ads", "messages", "records"), out of total (0 when not known). On a
// terminal it draws a bar; elsewhere it writes a line every interval.
func New(w io.Writer, what, unit string, total int64, every time.Duration) *Bar {
	b := &Bar{w: w, what: what, unit: unit, total: total, every: every, now: time.Now, shown: -1}
	b.start, b.last = b.now(), b.now()
	if IsTerminal(w) {
		max := total
		if max <= 0 {
			max = -1 // a spinner
		}
		b.bar = progressbar.NewOptions64(max,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(what),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString(unit),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetWidth(30),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
		)
	}
	return b
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Set records how much is done and, when total is above zero, the total
// (which may grow as work is found).
func (b *Bar) Set(done, total int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ended {
		return
	}
	b.done = done
	if total > 0 && total != b.total {
		b.total = total
		if b.bar != nil {
			b.bar.ChangeMax64(total)
		}
	}
	if b.bar != nil {
		_ = b.bar.Set64(done)
		return
	}
	if now := b.now(); now.Sub(b.last) >= b.every {
		b.last = now
		b.line(now)
	}
}

// Add records n more done.
func (b *Bar) Add(n int64) {
	b.mu.Lock()
	done, total := b.done+n, b.total
	b.mu.Unlock()
	b.Set(done, total)
}

// Finish ends the report with a last line (or a full bar).
func (b *Bar) Finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ended {
		return
	}
	b.ended = true
	if b.bar != nil {
		_ = b.bar.Finish()
		return
	}
	if b.shown != b.done {
		b.line(b.now())
	}
}

// line writes "what: done of total unit (pct%), rate unit/s".
func (b *Bar) line(now time.Time) {
	b.shown = b.done
	rate := float64(b.done) / max(now.Sub(b.start).Seconds(), 1e-9)
	if b.total > 0 {
		fmt.Fprintf(b.w, "%s: %d of %d %s (%.0f%%), %.0f %s/s\n", b.what, b.done, b.total, b.unit,
			100*float64(b.done)/float64(b.total), rate, b.unit)
		return
	}
	fmt.Fprintf(b.w, "%s: %d %s, %.0f %s/s\n", b.what, b.done, b.unit, rate, b.unit)
}
