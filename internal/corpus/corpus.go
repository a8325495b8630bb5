// Package corpus scores an extractor against a team-written corpus: a
// testdata file of lines "input<TAB>expected,expected" (an empty expected
// list for inputs that must give nothing; "#" lines are comments; \n and \\
// in inputs stand for a newline and a backslash).
package corpus

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// Case is one corpus line.
type Case struct {
	In   string
	Want []string
}

// Load reads a corpus file.
func Load(t testing.TB, path string) []Case {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []Case
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "#") || !strings.Contains(line, "\t") {
			continue
		}
		in, want, _ := strings.Cut(line, "\t")
		c := Case{In: unescape(in)}
		for _, w := range strings.Split(want, ",") {
			if w = strings.TrimSpace(w); w != "" {
				c.Want = append(c.Want, w)
			}
		}
		out = append(out, c)
	}
	return out
}

func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && (s[i+1] == 'n' || s[i+1] == '\\') {
			if s[i+1] == 'n' {
				b.WriteByte('\n')
			} else {
				b.WriteByte('\\')
			}
			i++
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Result is a corpus score.
type Result struct {
	Cases, Exact, TP, FP, FN int
	Precision, Recall        float64
}

// String is the one-line summary the tests log.
func (r Result) String() string {
	return fmt.Sprintf("%d cases, %d exactly right; precision %.3f, recall %.3f (tp %d, fp %d, fn %d)",
		r.Cases, r.Exact, r.Precision, r.Recall, r.TP, r.FP, r.FN)
}

// Score runs find on every case, logs every miss and false find, and
// returns the totals.
func Score(t testing.TB, cases []Case, find func(string) []string) Result {
	t.Helper()
	var r Result
	for _, c := range cases {
		want := map[string]bool{}
		for _, w := range c.Want {
			want[w] = true
		}
		got := find(c.In)
		ok := len(got) == len(c.Want)
		for _, g := range got {
			if want[g] {
				r.TP++
				delete(want, g)
			} else {
				r.FP++
				ok = false
				t.Logf("false find: %q -> %s", c.In, g)
			}
		}
		for w := range want {
			r.FN++
			t.Logf("missed: %q (want %s)", c.In, w)
		}
		if ok {
			r.Exact++
		}
		r.Cases++
	}
	r.Precision = float64(r.TP) / float64(max(r.TP+r.FP, 1))
	r.Recall = float64(r.TP) / float64(max(r.TP+r.FN, 1))
	t.Log(r)
	return r
}

// Require fails t when the corpus is smaller or scores lower than asked.
func Require(t testing.TB, r Result, cases int, precision, recall float64) {
	t.Helper()
	if r.Cases < cases || r.Precision < precision || r.Recall < recall {
		t.Errorf("%s: want at least %d cases, precision %.2f, recall %.2f", r, cases, precision, recall)
	}
}
