// Package phone finds phone numbers in the free text of ads, including the
// obfuscated forms ads use to defeat search: digits spelled as words and
// mixed with digits, letters for digits, separators between and inside
// groups, Unicode and keycap digits, numbers glued to words.
//
// Candidates are validated with nyaruka/phonenumbers (area code and exchange
// rules), so prices, measurements, dates and ids do not become numbers.
package phone

import (
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
	"google.golang.org/protobuf/proto"
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

// token is a group of digits as written: plain digits or spelled words.
type token struct {
	digits     string
	start, end int
	// spelled is true when letters or non-ASCII digits made the digits.
	spelled bool
	// weak tokens (a lone "o", "I", "l", "oh") count only inside a run.
	weak bool
	// tens is true for a lone tens word (twenty..ninety) that a following
	// unit word may complete ("thirty one" = 31).
	tens bool
	// hundred is true for a lone "hundred" that a following tens or unit
	// word completes ("five hundred ten" = 510, "five hundred one" = 501).
	hundred bool
	// plus is true when the gap before the token holds a '+'.
	plus bool
	// gap is the separator text before the token.
	gap string
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

// maxGap is the most separator runes between two groups of one number.
const maxGap = 6

// runs splits text into runs of digit tokens separated only by short gaps of
// separators.
func runs(text string) [][]token {
	var all [][]token
	var cur []token
	flush := func() {
		// Weak tokens opening a run are words, not digits ("I", "oh").
		for len(cur) > 0 && cur[0].weak {
			cur = cur[1:]
		}
		if len(cur) > 0 {
			all = append(all, cur)
		}
		cur = nil
	}
	gapStart, gapRunes := 0, 0
	plus := false
	i := 0
	for i < len(text) {
		r, w := utf8.DecodeRuneInString(text[i:])
		if !isAlnum(r) || (r == utf8.RuneError && w == 1) {
			if r == '+' {
				plus = true
			}
			if r == '$' || r == '%' || r == '#' {
				// A price, a percentage or a post number follows or ends here.
				flush()
			}
			gapRunes++
			i += w
			continue
		}
		// An alphanumeric chunk.
		j := i
		for j < len(text) {
			r2, w2 := utf8.DecodeRuneInString(text[j:])
			if !isAlnum(r2) || (r2 == utf8.RuneError && w2 == 1) {
				break
			}
			j += w2
		}
		if gapRunes > maxGap {
			flush()
		}
		gap := text[gapStart:i]
		afterPrice := i > 0 && text[i-1] == '$'
		toks, ok := chunkTokens(text, i, j)
		switch {
		case !ok && !hasDigit(text[i:j]):
			// A plain word: it ends the run.
			flush()
		case !ok || afterPrice:
			// A word that is not a number: it ends the run. Digits glued
			// to it (tonight602..., Rachel567...) still form tokens.
			parts := splitChunk(text, i, j)
			for k, p := range parts {
				if p.digits == "" || (k == 0 && afterPrice) {
					flush()
					continue
				}
				if k+1 < len(parts) && parts[k+1].digits == "" && isUnit(text[parts[k+1].start:parts[k+1].end]) {
					// 10am, 120lbs, 2hr: a time or a measure, not a group.
					flush()
					continue
				}
				if len(cur) == 0 {
					p.plus = plus
				}
				cur = append(cur, p)
			}
		default:
			for k := range toks {
				if k == 0 {
					toks[k].gap = gap
					toks[k].plus = plus
					// "thirty one": a unit word completes a tens word.
					if n := len(cur); n > 0 && cur[n-1].tens && cur[n-1].end <= i && strings.Trim(gap, " -") == "" &&
						toks[0].spelled && len(toks[0].digits) == 1 && toks[0].digits != "0" && !toks[0].weak {
						cur[n-1].digits = cur[n-1].digits[:1] + toks[0].digits
						cur[n-1].end = toks[0].end
						cur[n-1].tens = false
						continue
					}
					// "five hundred ten" = 510, "five hundred twenty
					// three" = 523, "five hundred one" = 501: the words
					// after "hundred" fill its two places.
					if n := len(cur); n > 1 && cur[n-1].hundred && strings.Trim(gap, " -") == "" && toks[0].spelled && !toks[0].weak &&
						len(cur[n-2].digits) == 1 && (len(toks[0].digits) == 2 || (len(toks[0].digits) == 1 && toks[0].digits != "0")) {
						if len(toks[0].digits) == 1 {
							cur[n-1].digits = "0" + toks[0].digits
						} else {
							cur[n-1].digits = toks[0].digits
						}
						cur[n-1].end, cur[n-1].hundred, cur[n-1].tens = toks[0].end, false, toks[0].tens
						continue
					}
				}
				cur = append(cur, toks[k])
			}
		}
		plus = false
		gapStart, gapRunes = j, 0
		i = j
	}
	flush()
	return all
}

func isAlnum(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// splitChunk splits an alphanumeric chunk that is not wholly a number into
// its digit runs (tokens) and letter runs (tokens without digits, which
// break runs) unless a letter run is itself a number word.
func splitChunk(text string, i, j int) []token {
	var out []token
	k := i
	for k < j {
		r, w := utf8.DecodeRuneInString(text[k:])
		isD := unicode.IsDigit(r)
		m := k + w
		for m < j {
			r2, w2 := utf8.DecodeRuneInString(text[m:])
			if unicode.IsDigit(r2) != isD {
				break
			}
			m += w2
		}
		if isD {
			t := digitToken(text, k, m)
			out = append(out, t)
		} else if toks, ok := chunkTokens(text, k, m); ok && !allWeak(toks) {
			out = append(out, toks...)
		} else if suffix, ok := wordSuffix(text, k, m); ok && m < j {
			// "callsix02...": number words glued between a word and digits.
			out = append(out, token{start: k, end: suffix[0].start})
			out = append(out, suffix...)
		} else {
			out = append(out, token{start: k, end: m})
		}
		k = m
	}
	return out
}

// wordSuffix finds the longest tail of the letters text[i:j], of at least
// three letters and not only weak words, that reads as number words.
func wordSuffix(text string, i, j int) ([]token, bool) {
	for s := i + 1; s+3 <= j; s++ {
		if !utf8.RuneStart(text[s]) {
			continue
		}
		if toks, ok := chunkTokens(text, s, j); ok && !allWeak(toks) {
			return toks, true
		}
	}
	return nil, false
}

// units glued after a number make it a time, price or measure.
var units = map[string]bool{
	"am": true, "pm": true, "hr": true, "hrs": true, "h": true, "hh": true, "min": true, "mins": true,
	"lb": true, "lbs": true, "kg": true, "cm": true, "in": true, "ft": true, "yo": true, "yr": true,
	"yrs": true, "k": true, "st": true, "nd": true, "rd": true, "th": true, "usd": true, "roses": true,
}

func isUnit(s string) bool { return units[strings.ToLower(s)] }

func allWeak(ts []token) bool {
	for _, t := range ts {
		if !t.weak {
			return false
		}
	}
	return true
}

func digitToken(text string, i, j int) token {
	var b strings.Builder
	spelled := false
	for _, r := range text[i:j] {
		d := digitValue(r)
		if r > unicode.MaxASCII {
			spelled = true
		}
		b.WriteByte(byte('0' + d))
	}
	return token{digits: b.String(), start: i, end: j, spelled: spelled}
}

// digitValue returns the value of a Unicode decimal digit.
func digitValue(r rune) int {
	if r >= '0' && r <= '9' {
		return int(r - '0')
	}
	// Decimal digit blocks are contiguous runs of ten starting at a zero;
	// walk back to the start of the run of digits and count in tens.
	start := r
	for unicode.IsDigit(start - 1) {
		start--
	}
	return int(r-start) % 10
}

// word is a number word and the digits it stands for.
type word struct {
	text   string
	digits string
	tens   bool // twenty..ninety: may combine with a following unit
	weak   bool
}

var words = []word{
	{"zero", "0", false, false}, {"oh", "0", false, true}, {"o", "0", false, true},
	{"one", "1", false, false}, {"won", "1", false, false}, {"two", "2", false, false},
	{"too", "2", false, true}, {"three", "3", false, false}, {"four", "4", false, false},
	{"for", "4", false, true}, {"five", "5", false, false}, {"six", "6", false, false},
	{"seven", "7", false, false}, {"eight", "8", false, false}, {"nine", "9", false, false},
	{"ten", "10", false, false}, {"eleven", "11", false, false}, {"twelve", "12", false, false},
	{"thirteen", "13", false, false}, {"fourteen", "14", false, false}, {"fifteen", "15", false, false},
	{"sixteen", "16", false, false}, {"seventeen", "17", false, false}, {"eighteen", "18", false, false},
	{"nineteen", "19", false, false}, {"twenty", "20", true, false}, {"thirty", "30", true, false},
	{"forty", "40", true, false}, {"fourty", "40", true, false}, {"fifty", "50", true, false},
	{"sixty", "60", true, false}, {"seventy", "70", true, false}, {"eighty", "80", true, false},
	{"ninety", "90", true, false}, {"hundred", "00", false, false}, {"thousand", "000", false, false},
	{"l", "1", false, true}, {"i", "1", false, true},
}

// byFirst indexes words by their (ASCII) first letter.
var byFirst = func() (m [128][]word) {
	for _, w := range words {
		m[w.text[0]] = append(m[w.text[0]], w)
	}
	return m
}()

// wordsStarting returns the number words that may start with r (folded).
func wordsStarting(r rune) []word {
	if r < 0 || r >= 128 {
		return nil
	}
	return byFirst[r]
}

// startsWithWord reports whether s begins with a number word.
func startsWithWord(s string) bool {
	first, _ := utf8.DecodeRuneInString(s)
	for _, w := range wordsStarting(fold(first)) {
		if len(s) < len(w.text) {
			continue
		}
		k, ok := 0, true
		for _, r := range s {
			if k == len(w.text) {
				break
			}
			if fold(r) != rune(w.text[k]) {
				ok = false
				break
			}
			k++
		}
		if ok && k == len(w.text) {
			return true
		}
	}
	return false
}

func hasDigit(s string) bool {
	for _, r := range s {
		if unicode.IsDigit(r) {
			return true
		}
	}
	return false
}

func allASCIIDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return len(s) > 0
}

// fold lowercases r and reads leetspeak digits inside words as letters.
func fold(r rune) rune {
	switch r {
	case '0':
		return 'o'
	case '1':
		return 'l'
	case '3':
		return 'e'
	}
	return unicode.ToLower(r)
}

// chunkTokens reads text[i:j] as a sequence of digits and number words.
// It reports false when some part of it is neither.
func chunkTokens(text string, i, j int) ([]token, bool) {
	if allASCIIDigits(text[i:j]) {
		return []token{{digits: text[i:j], start: i, end: j}}, true
	}
	first, _ := utf8.DecodeRuneInString(text[i:j])
	if !unicode.IsDigit(first) && !startsWithWord(text[i:j]) {
		return nil, false
	}
	// Small chunks, nearly all of them, work in stack arrays.
	var rsA [32]rune
	var offsA, bestA, choiceA [33]int
	rs := rsA[:0]
	for _, r := range text[i:j] {
		rs = append(rs, r)
	}
	offs := offsA[:0]
	if len(rs) >= len(offsA) {
		offs = make([]int, 0, len(rs)+1)
	}
	offs = offs[:len(rs)+1]
	o := i
	for k, r := range rs {
		offs[k] = o
		o += utf8.RuneLen(r)
		if r == utf8.RuneError {
			o = offs[k] + 1
		}
	}
	offs[len(rs)] = j
	n := len(rs)
	// best[k]: fewest pieces covering rs[k:], -1 when impossible.
	const inf = 1 << 30
	best, choice := bestA[:0], choiceA[:0] // choice: length of the first piece; 0 = digit
	if n+1 > len(bestA) {
		best, choice = make([]int, 0, n+1), make([]int, 0, n+1)
	}
	best, choice = best[:n+1], choice[:n+1]
	best[n] = 0
	for k := n - 1; k >= 0; k-- {
		best[k] = inf
		if unicode.IsDigit(rs[k]) && best[k+1] < inf {
			best[k] = best[k+1] + 1
			choice[k] = 0
		}
		for _, w := range wordsStarting(fold(rs[k])) {
			l := len(w.text)
			if k+l > n || best[k+l] >= inf {
				continue
			}
			if matchWord(rs[k:k+l], w.text) && best[k+l]+1 < best[k] {
				best[k] = best[k+l] + 1
				choice[k] = l
			}
		}
	}
	if best[0] >= inf {
		return nil, false
	}
	var out []token
	for k := 0; k < n; {
		if choice[k] == 0 {
			t := token{digits: string(rune('0' + digitValue(rs[k]))), start: offs[k], end: offs[k+1], spelled: rs[k] > unicode.MaxASCII}
			out = append(out, t)
			k++
			continue
		}
		l := choice[k]
		w := lookup(rs[k : k+l])
		t := token{digits: w.digits, start: offs[k], end: offs[k+l], spelled: true, weak: w.weak, tens: w.tens, hundred: w.text == "hundred"}
		k += l
		// twenty + six = 26
		if w.tens && k < n && choice[k] != 0 {
			if u := lookup(rs[k : k+choice[k]]); len(u.digits) == 1 && u.digits != "0" && !u.weak {
				t.digits = w.digits[:1] + u.digits
				t.tens = false
				t.end = offs[k+choice[k]]
				k += choice[k]
			}
		} else if w.tens && k < n && choice[k] == 0 && rs[k] != '0' && unicode.IsDigit(rs[k]) &&
			(k+1 == n || !unicode.IsDigit(rs[k+1])) {
			// twenty3 = 23: a tens word and one digit glued to it.
			t.digits = w.digits[:1] + string(rune('0'+digitValue(rs[k])))
			t.tens = false
			t.end = offs[k+1]
			k++
		}
		out = append(out, t)
	}
	// Merge adjacent plain digits into one token so groups keep their shape.
	var merged []token
	for _, t := range out {
		if len(merged) > 0 && !t.spelled && !merged[len(merged)-1].spelled && merged[len(merged)-1].end == t.start {
			merged[len(merged)-1].digits += t.digits
			merged[len(merged)-1].end = t.end
			continue
		}
		merged = append(merged, t)
	}
	// Weak words glued to digits ("5lO", "569l") are digits; a chunk of
	// only weak words ("I", "o", "for") stays weak.
	if !allWeak(merged) {
		for k := range merged {
			merged[k].weak = false
		}
	}
	return merged, true
}

func matchWord(rs []rune, w string) bool {
	k := 0
	for _, c := range w {
		if fold(rs[k]) != c {
			return false
		}
		k++
	}
	// A word must contain at least one letter: "0" alone is a digit.
	for _, r := range rs {
		if unicode.IsLetter(r) {
			return true
		}
	}
	return false
}

func lookup(rs []rune) word {
	for _, w := range words {
		if len(w.text) == len(rs) && matchWord(rs, w.text) {
			return w
		}
	}
	return word{}
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

// international parses the run as +<country code><number>.
func (e *Extractor) international(run []token) (Match, int, bool) {
	digits := ""
	for j := range run {
		digits += run[j].digits
		d := strings.TrimPrefix(digits, "00")
		if len(d) < 8 || len(d) > 15 {
			continue
		}
		num, ok := parseInternational(d)
		if !ok {
			continue
		}
		// Take the longest valid reading.
		best := j
		for k := j + 1; k < len(run); k++ {
			d2 := strings.TrimPrefix(digits+joinDigits(run[j+1:k+1]), "00")
			if len(d2) > 15 {
				break
			}
			if n2, ok := parseInternational(d2); ok {
				num, best = n2, k
			}
		}
		return Match{
			E164:       phonenumbers.Format(num, phonenumbers.E164),
			Start:      run[0].start,
			End:        run[best].end,
			Obfuscated: obfuscated(run[:best+1]),
		}, best + 1, true
	}
	return Match{}, 0, false
}

// parseInternational reads digits after a '+' (or 00) as a valid number.
// Mexico's mobile "1" after the country code, dropped in 2019 and still
// written in ads, is read without it.
func parseInternational(d string) (*phonenumbers.PhoneNumber, bool) {
	num, err := phonenumbers.Parse("+"+d, "ZZ")
	if (err != nil || !phonenumbers.IsValidNumber(num)) && strings.HasPrefix(d, "521") {
		num, err = phonenumbers.Parse("+52"+d[3:], "ZZ")
	}
	return num, err == nil && phonenumbers.IsValidNumber(num)
}

func joinDigits(ts []token) string {
	var b strings.Builder
	for _, t := range ts {
		b.WriteString(t.digits)
	}
	return b.String()
}

// valid validates a national number (10 digits, or 11 with a leading 1).
func (e *Extractor) valid(digits string) (string, bool) {
	if e.region != "US" && e.region != "CA" {
		num, err := phonenumbers.Parse(digits, e.region)
		if err != nil || !phonenumbers.IsValidNumber(num) {
			return "", false
		}
		return phonenumbers.Format(num, phonenumbers.E164), true
	}
	// North American numbering plan: NXX-NXX-XXXX, checked by hand before
	// the (slow) metadata check, whose answers are cached.
	d := digits
	if len(d) == 11 {
		if d[0] != '1' {
			return "", false
		}
		d = d[1:]
	}
	if len(d) != 10 || d[0] < '2' || d[3] < '2' || (d[1] == '1' && d[2] == '1') || (d[4] == '1' && d[5] == '1') {
		return "", false
	}
	e164 := "+1" + d
	e.mu.Lock()
	ok, seen := e.cache[d]
	e.mu.Unlock()
	if !seen {
		n, _ := strconv.ParseUint(d, 10, 64)
		ok = phonenumbers.IsValidNumber(&phonenumbers.PhoneNumber{CountryCode: proto.Int32(1), NationalNumber: proto.Uint64(n)})
		e.mu.Lock()
		if len(e.cache) >= maxCache {
			clear(e.cache)
		}
		e.cache[d] = ok
		e.mu.Unlock()
	}
	return e164, ok
}

// maxCache bounds the validation cache.
const maxCache = 1 << 16

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
