// Package indicator matches ad text against analysts' term lists
// (configs/indicators/*.yaml): youth, third-party control, movement,
// restrictions, risky services and payment. Matching survives case,
// repeated letters ("yoouung"), leetspeak ("y0ung"), spaced letters and
// emoji.
package indicator

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/adwatch/adwatch/internal/record"
)

// Categories in the order reports list them: possible minors first.
var Categories = []string{"youth", "obfuscation", "third_party", "stated_ethnicity", "risky", "restricted", "movement"}

// List is one term list file.
type List struct {
	// Category of every term in the list.
	Category string `yaml:"category"`
	// Source says where the terms come from (research, case experience).
	Source string `yaml:"source"`
	// Weight of a term that names none.
	Weight float64 `yaml:"weight"`
	// Terms to match.
	Terms []Term `yaml:"terms"`
}

// Term is one term of a list.
type Term struct {
	Term   string  `yaml:"term"`
	Weight float64 `yaml:"weight"`
}

type compiled struct {
	category string
	term     string
	weight   float64
	toks     []string
}

// Matcher matches text against loaded lists. It is safe for concurrent use.
type Matcher struct {
	terms []compiled
	first map[string][]int // first token -> indexes into terms
}

// LoadDir loads every *.yaml list in dir.
func LoadDir(dir string) (*Matcher, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, fmt.Errorf("listing indicator lists: %w", err)
	}
	sort.Strings(paths)
	var lists []List
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("reading indicator list: %w", err)
		}
		var l List
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&l); err != nil {
			return nil, fmt.Errorf("decoding indicator list %s: %w", p, err)
		}
		if l.Category == "" || l.Source == "" {
			return nil, fmt.Errorf("indicator list %s: category and source are required", p)
		}
		lists = append(lists, l)
	}
	return New(lists...), nil
}

// New compiles lists into a Matcher.
func New(lists ...List) *Matcher {
	m := &Matcher{first: map[string][]int{}}
	for _, l := range lists {
		for _, t := range l.Terms {
			w := t.Weight
			if w == 0 {
				w = l.Weight
			}
			if w == 0 {
				w = 1
			}
			toks := tokens(t.Term)
			if len(toks) == 0 {
				continue
			}
			m.terms = append(m.terms, compiled{l.Category, t.Term, w, texts(toks)})
			m.first[toks[0].text] = append(m.first[toks[0].text], len(m.terms)-1)
		}
	}
	return m
}

// Match returns the matched terms of text, youth first then by position,
// and the summed weight per category.
func (m *Matcher) Match(text string) ([]record.Indicator, map[string]float64) {
	toks := tokens(text)
	type hit struct {
		in       record.Indicator
		from, to int // token span
	}
	var hits []hit
	seen := map[string]bool{}
	for i, t := range toks {
		for _, ti := range m.first[t.text] {
			c := m.terms[ti]
			if i+len(c.toks) > len(toks) {
				continue
			}
			ok := true
			for k := range c.toks {
				ok = ok && toks[i+k].text == c.toks[k]
			}
			if !ok {
				continue
			}
			key := fmt.Sprintf("%s/%s/%d", c.category, c.term, toks[i].off)
			if seen[key] {
				continue
			}
			seen[key] = true
			hits = append(hits, hit{record.Indicator{Category: c.category, Term: c.term, Weight: c.weight, Offset: toks[i].off}, i, i + len(c.toks)})
		}
	}
	// A term inside a longer matched term ("girl" in "two girl special")
	// is not counted on its own.
	var out []record.Indicator
	for _, h := range hits {
		inside := false
		for _, o := range hits {
			if o.to-o.from > h.to-h.from && o.from <= h.from && h.to <= o.to {
				inside = true
				break
			}
		}
		if !inside {
			out = append(out, h.in)
		}
	}
	Sort(out)
	scores := map[string]float64{}
	for _, in := range out {
		scores[in.Category] += in.Weight
	}
	return out, scores
}

// rank orders categories as reports list them.
func rank(c string) int {
	if i := slices.Index(Categories, c); i >= 0 {
		return i
	}
	return len(Categories)
}

// Sort orders indicators by category (possible minors first), then position.
func Sort(in []record.Indicator) {
	sort.SliceStable(in, func(i, j int) bool {
		if ri, rj := rank(in[i].Category), rank(in[j].Category); ri != rj {
			return ri < rj
		}
		return in[i].Offset < in[j].Offset
	})
}

// Insert adds x to a sorted list of indicators, keeping the order.
func Insert(in []record.Indicator, x record.Indicator) []record.Indicator {
	out := append(in, x)
	Sort(out)
	return out
}

type tok struct {
	text string
	off  int
}

func texts(ts []tok) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.text
	}
	return out
}

var leet = map[rune]rune{'0': 'o', '1': 'i', '3': 'e', '4': 'a', '5': 's', '7': 't', '@': 'a', '$': 's'}

// tokens normalizes text into words (lowercase, leetspeak read as letters
// inside words, repeated letters collapsed) and emoji (one token each).
// Runs of three or more single letters ("y o u n g") are joined.
func tokens(text string) []tok {
	var out []tok
	var b strings.Builder
	start := -1
	hasLetter := false
	var last rune
	flush := func() {
		if b.Len() > 0 {
			out = append(out, tok{b.String(), start})
		}
		b.Reset()
		start, hasLetter, last = -1, false, 0
	}
	for i, r := range text {
		if r == utf8.RuneError {
			flush()
			continue
		}
		inWord := unicode.IsLetter(r) || unicode.IsDigit(r) || ((r == '@' || r == '$') && b.Len() > 0)
		if inWord {
			if start < 0 {
				start = i
			}
			if unicode.IsLetter(r) {
				hasLetter = true
			}
			c := unicode.ToLower(r)
			if c == last && unicode.IsLetter(c) {
				continue
			}
			last = c
			b.WriteRune(c)
			continue
		}
		flush()
		if isEmoji(r) {
			out = append(out, tok{string(r), i})
		}
	}
	flush()
	_ = hasLetter
	// Leetspeak inside words with letters; digit-only words stay digits.
	for k, t := range out {
		if !strings.ContainsFunc(t.text, unicode.IsLetter) {
			continue
		}
		var b strings.Builder
		var prev rune
		for _, r := range t.text {
			if l, ok := leet[r]; ok {
				r = l
			}
			if r == prev {
				continue
			}
			prev = r
			b.WriteRune(r)
		}
		out[k].text = b.String()
	}
	// Join spaced single letters.
	var joined []tok
	for i := 0; i < len(out); {
		j := i
		for j < len(out) && utf8.RuneCountInString(out[j].text) == 1 && unicode.IsLetter([]rune(out[j].text)[0]) {
			j++
		}
		if j-i >= 3 {
			var b strings.Builder
			for _, t := range out[i:j] {
				b.WriteString(t.text)
			}
			joined = append(joined, tok{b.String(), out[i].off})
			i = j
			continue
		}
		joined = append(joined, out[i])
		i++
	}
	return joined
}

func isEmoji(r rune) bool {
	return r >= 0x1F300 && r <= 0x1FAFF || r >= 0x2600 && r <= 0x27BF
}
