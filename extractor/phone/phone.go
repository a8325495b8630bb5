// Package phone finds phone numbers in the free text of ads, including the
// obfuscated forms ads use to defeat search: digits spelled as words and
// mixed with digits, letters for digits, separators between and inside
// groups, Unicode and keycap digits, numbers glued to words.
//
// Candidates are validated with nyaruka/phonenumbers (area code and exchange
// rules), so prices, measurements, dates and ids do not become numbers.
package phone

import (
	"strings"
	"sync"
)

// Match is one phone number found in a text.
type Match struct {
	// E164 is the number in E.164 form.
	E164 string `json:"e164"`
	// Obfuscated is true when the number was written to evade search.
	Obfuscated bool `json:"obfuscated"`
	// Start and End are the byte offsets of the number in the text.
	Start int `json:"start"`
	End   int `json:"end"`
}

// Extractor finds phone numbers. It is safe for concurrent use.
type Extractor struct {
	region string

	mu    sync.Mutex
	cache map[string]bool // national number -> valid
}

// New returns an Extractor whose numbers without a country code belong to
// region (an ISO 3166 code such as "US").
func New(region string) *Extractor {
	if region == "" {
		region = "US"
	}
	return &Extractor{region: strings.ToUpper(region), cache: map[string]bool{}}
}

// Find returns the phone numbers in text, in order, each once.
func (e *Extractor) Find(text string) []Match {
	var out []Match
	seen := map[string]bool{}
	for _, run := range runs(text) {
		for _, m := range e.fromRun(run) {
			if !seen[m.E164] {
				seen[m.E164] = true
				out = append(out, m)
			}
		}
	}
	return out
}

// Numbers returns the E.164 strings of Find.
func (e *Extractor) Numbers(text string) []string {
	ms := e.Find(text)
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		out = append(out, m.E164)
	}
	return out
}

// fromRun finds the valid numbers in one run of tokens.
func (e *Extractor) fromRun(run []token) []Match {
	var out []Match
	// International numbers: a '+' or a leading 00 before the first group.
	// When none reads, the group after a "+CC" is not the start of a
	// national number ("+52 1 55 ..." is not the US 1-551-...).
	afterCode := -1
	if run[0].plus || strings.HasPrefix(run[0].digits, "00") {
		if m, n, ok := e.international(run); ok {
			out = append(out, m)
			run = run[n:]
			if len(run) == 0 {
				return out
			}
		} else if run[0].plus && len(run[0].digits) <= 3 && run[0].digits != "1" {
			afterCode = 1
		}
	}
	type cand struct {
		i, j  int
		m     Match
		shape bool
	}
	var cands []cand
	dates := dateTokens(run)
	for i := range run {
		if run[i].weak || dates[i] || i == afterCode {
			continue
		}
		digits := ""
		for j := i; j < len(run); j++ {
			if dates[j] {
				break
			}
			digits += run[j].digits
			if len(digits) > 11 {
				break
			}
			if len(digits) < 10 || (len(digits) == 11 && digits[0] != '1') {
				continue
			}
			if run[j].weak && j+1 < len(run) && len(digits) == 10 {
				continue
			}
			if e164, ok := e.valid(digits); ok {
				cands = append(cands, cand{i, j, Match{E164: e164, Start: run[i].start, End: run[j].end, Obfuscated: obfuscated(run[i : j+1])}, phoneShape(run[i : j+1])})
			}
		}
	}
	// Prefer numbers written in a phone's shape, then the leftmost.
	used := make([]bool, len(run))
	for _, wantShape := range []bool{true, false} {
		for _, c := range cands {
			if c.shape != wantShape {
				continue
			}
			free := true
			for k := c.i; k <= c.j; k++ {
				free = free && !used[k]
			}
			if !free {
				continue
			}
			for k := c.i; k <= c.j; k++ {
				used[k] = true
			}
			out = append(out, c.m)
		}
	}
	sortByStart(out)
	return out
}

// dateTokens marks tokens that read as a date: YYYY MM DD or MM DD YYYY.
func dateTokens(run []token) []bool {
	out := make([]bool, len(run))
	year := func(t token) bool {
		return len(t.digits) == 4 && (strings.HasPrefix(t.digits, "19") || strings.HasPrefix(t.digits, "20"))
	}
	small := func(t token, limit int) bool {
		if len(t.digits) < 1 || len(t.digits) > 2 {
			return false
		}
		n := 0
		for _, c := range t.digits {
			n = n*10 + int(c-'0')
		}
		return n >= 1 && n <= limit
	}
	for i := 0; i+2 < len(run); i++ {
		if (year(run[i]) && small(run[i+1], 12) && small(run[i+2], 31)) ||
			(small(run[i], 31) && small(run[i+1], 31) && year(run[i+2])) {
			out[i], out[i+1], out[i+2] = true, true, true
		}
	}
	return out
}

func sortByStart(ms []Match) {
	for i := 1; i < len(ms); i++ {
		for k := i; k > 0 && ms[k].Start < ms[k-1].Start; k-- {
			ms[k], ms[k-1] = ms[k-1], ms[k]
		}
	}
}

// phoneShape reports groups written as phones are: 3-3-4, 1-3-3-4, 3-7,
// 6-4, or one group of 10 or 11.
func phoneShape(ts []token) bool {
	var ls []int
	for _, t := range ts {
		ls = append(ls, len(t.digits))
	}
	switch len(ls) {
	case 1:
		return true
	case 2:
		return (ls[0] == 3 && ls[1] == 7) || (ls[0] == 6 && ls[1] == 4) || (ls[0] == 1 && ls[1] == 10)
	case 3:
		return ls[0] == 3 && ls[1] == 3 && ls[2] == 4
	case 4:
		return ls[0] == 1 && ls[1] == 3 && ls[2] == 3 && ls[3] == 4
	}
	return false
}

// obfuscated reports a number written to evade search: spelled digits, or
// groups that are not a phone's shape, or separators other than the usual.
func obfuscated(ts []token) bool {
	for k, t := range ts {
		if t.spelled {
			return true
		}
		if k > 0 && strings.Trim(t.gap, " -.()/+") != "" {
			return true
		}
	}
	return !phoneShape(ts)
}
