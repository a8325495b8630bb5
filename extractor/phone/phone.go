// Package phone finds phone numbers in the free text of ads, including the
// obfuscated forms ads use to defeat search: digits spelled as words and
// mixed with digits, letters for digits, separators between and inside
// groups, Unicode and keycap digits, numbers glued to words.
//
// Candidates are validated with nyaruka/phonenumbers (area code and exchange
// rules), so prices, measurements, dates and ids do not become numbers.
package phone

import (
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/nyaruka/phonenumbers"
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
	cache map[string]bool // national number -> valid (NANP)
	// natCache holds national readings outside the NANP: region + digits ->
	// E.164, "" when invalid.
	natCache map[string]string
}

// New returns an Extractor whose numbers without a country code belong to
// region (an ISO 3166 code such as "US").
func New(region string) *Extractor {
	if region == "" {
		region = "US"
	}
	return &Extractor{region: strings.ToUpper(region), cache: map[string]bool{}, natCache: map[string]string{}}
}

// Region is the region of numbers written without a country code, when
// FindIn is not told another.
func (e *Extractor) Region() string { return e.region }

// Find returns the phone numbers in text, in order, each once. Numbers
// without a country code are read in the Extractor's region (see FindIn).
func (e *Extractor) Find(text string) []Match { return e.FindIn(text, "") }

// FindIn returns the phone numbers in text, in order, each once. A number
// written without a country code is read in region (the ad's country; ""
// for the Extractor's own), then, when it is not valid there and is written
// with its national prefix ("07700 900461"), in the regions of the numbers
// the text writes with a country code ("+44 ...") and in the regions in also
// (those named elsewhere in the same ad, see Regions). Outside the North
// American plan, a run of digits valid nowhere else is tried as an
// international number written without its '+' ("44 7700 900461").
func (e *Extractor) FindIn(text, region string, also ...string) []Match {
	if region == "" {
		region = e.region
	}
	region = strings.ToUpper(region)
	lex := english
	if spanishRegions[region] || Spanish(text) {
		lex = spanish
	}
	rs := runs(text, lex)
	// International numbers open runs with a '+' or 00; read once, they
	// also name the ad's other regions.
	var intl []intlRead
	for k, run := range rs {
		if run[0].plus || strings.HasPrefix(run[0].digits, "00") {
			if intl == nil {
				intl = make([]intlRead, len(rs))
			}
			intl[k] = e.readInternational(run)
		}
	}
	var regionsA [1]string
	regions := append(regionsA[:0], region)
	if len(intl) > 0 || len(also) > 0 {
		regions = regionsOf(intl, region, also)
	}
	var out []Match
	seen := map[string]bool{}
	var ms []Match
	for k, run := range rs {
		var in intlRead
		if intl != nil {
			in = intl[k]
		}
		ms = e.fromRun(run, in, regions, ms[:0])
		for _, m := range ms {
			if !seen[m.E164] {
				seen[m.E164] = true
				out = append(out, m)
			}
		}
	}
	return out
}

// intlRead is the international number a run opens with, if any.
type intlRead struct {
	m Match
	// n is the number of tokens it takes, 0 when none reads.
	n int
	// region is the number's region.
	region string
	// tried is true when the run opens with a '+' or 00.
	tried bool
}

// readInternational reads the international number a run opens with.
func (e *Extractor) readInternational(run []token) intlRead {
	if !run[0].plus && !strings.HasPrefix(run[0].digits, "00") {
		return intlRead{}
	}
	m, n, ok := e.international(run)
	if !ok {
		return intlRead{tried: true}
	}
	return intlRead{m: m, n: n, region: regionOf(m.E164), tried: true}
}

// regionOf is the region of an E.164 number: that of its country code.
func regionOf(e164 string) string {
	for l := 1; l <= 3 && l < len(e164); l++ {
		cc, err := strconv.Atoi(e164[1 : 1+l])
		if err != nil {
			return ""
		}
		if r := phonenumbers.GetRegionCodeForCountryCode(cc); r != "ZZ" && r != "" {
			if r == "001" {
				return ""
			}
			return r
		}
	}
	return ""
}

// Regions returns the regions (ISO 3166 codes) of the numbers text writes
// with a country code ("+44 7911 123456", "0052 55 ..."), each once: what
// an ad says of its own country.
func (e *Extractor) Regions(text string) []string {
	var out []string
	for _, run := range runs(text, english) {
		if r := e.readInternational(run).region; r != "" && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// regionsOf lists the regions to read national numbers in: those the ad
// names first (its "+CC" numbers override the site's country), then region.
func regionsOf(intl []intlRead, region string, also []string) []string {
	var regions []string
	add := func(r string) {
		if r = strings.ToUpper(r); r != "" && r != region && !slices.Contains(regions, r) {
			regions = append(regions, r)
		}
	}
	for _, r := range also {
		add(r)
	}
	for _, in := range intl {
		add(in.region)
	}
	return append(regions, region)
}

// Numbers returns the E.164 strings of Find.
func (e *Extractor) Numbers(text string) []string {
	return numbers(e.Find(text))
}

// NumbersIn returns the E.164 strings of FindIn.
func (e *Extractor) NumbersIn(text, region string, also ...string) []string {
	return numbers(e.FindIn(text, region, also...))
}

func numbers(ms []Match) []string {
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		out = append(out, m.E164)
	}
	return out
}

// cand is a national reading of the tokens run[i..j].
type cand struct {
	i, j  int
	m     Match
	shape bool
}

// fromRun appends the valid numbers in one run of tokens to out. National
// numbers are read in the regions in order; the last is the ad's own
// country, the others are those the ad names.
func (e *Extractor) fromRun(run []token, intl intlRead, regions []string, out []Match) []Match {
	// International numbers: a '+' or a leading 00 before the first group.
	// When none reads, the group after a "+CC" is not the start of a
	// national number ("+52 1 55 ..." is not the US 1-551-...).
	afterCode := -1
	if intl.tried {
		if intl.n > 0 {
			out = append(out, intl.m)
			run = run[intl.n:]
			if len(run) == 0 {
				return out
			}
		} else if run[0].plus && len(run[0].digits) <= 3 && run[0].digits != "1" {
			afterCode = 1
		}
	}
	dates := dateTokens(run)
	var cands []cand
	home := regions[len(regions)-1]
	for _, region := range regions {
		if nanp(region) {
			cands = e.nanpCands(run, region, dates, afterCode)
		} else {
			cands = e.nationalCands(run, region, home, dates, afterCode)
		}
		if len(cands) > 0 {
			break
		}
	}
	if len(cands) == 0 && !nanp(home) && afterCode < 0 && !run[0].weak {
		// A number written with its country code but no '+'.
		if m, ok := e.internationalNoPlus(run); ok {
			return append(out, m)
		}
	}
	// Prefer numbers written in a phone's shape, then the leftmost.
	used := make([]bool, len(run))
	first := len(out)
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
	sortByStart(out[first:])
	return out
}

// internationalNoPlus reads a run as an international number written
// without its '+': a country code then a number in a national shape
// ("44 7700 900461"), or one group of 11 digits or more.
func (e *Extractor) internationalNoPlus(run []token) (Match, bool) {
	if len(run[0].digits) >= 11 {
		m, _, ok := e.international(run[:1])
		return m, ok
	}
	if len(run[0].digits) > 3 || run[0].spelled {
		return Match{}, false
	}
	m, n, ok := e.international(run)
	return m, ok && n > 1 && (nationalShape(run[1:n]) || phoneShape(run[:n]))
}

// nanpCands reads national numbers of the North American plan: 10 digits,
// or 11 with a leading 1.
func (e *Extractor) nanpCands(run []token, region string, dates []bool, afterCode int) []cand {
	var cands []cand
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
			if !homophonesOK(run[i : j+1]) {
				continue
			}
			if e164, ok := e.valid(digits, region); ok {
				cands = append(cands, cand{i, j, Match{E164: e164, Start: run[i].start, End: run[j].end, Obfuscated: obfuscated(run[i : j+1])}, phoneShape(run[i : j+1])})
			}
		}
	}
	return cands
}

// Shortest and longest national numbers read outside the NANP, with their
// national prefix (Spain's 9 digits, India's 0 + 10).
const (
	minNational = 8
	maxNational = 13
)

// nationalCands reads national numbers of a region outside the NANP: every
// window of 8 to 13 digits the region's plan accepts, the longest first at
// each start. In a region the ad names that is not home (the ad's country),
// a number must be written with the region's national prefix, or in a
// national shape and not valid at home.
func (e *Extractor) nationalCands(run []token, region, home string, dates []bool, afterCode int) []cand {
	var cands []cand
	for i := range run {
		if run[i].weak || dates[i] || i == afterCode {
			continue
		}
		n := len(cands)
		digits := ""
		for j := i; j < len(run); j++ {
			if dates[j] {
				break
			}
			digits += run[j].digits
			if len(digits) > maxNational {
				break
			}
			if len(digits) < minNational || (run[j].weak && j+1 < len(run)) || !homophonesOK(run[i:j+1]) {
				continue
			}
			ts := run[i : j+1]
			// Where numbers are written with a national prefix ("0"), one
			// without it must at least look like a phone number; in a
			// region the ad names but is not in, it must also not be a
			// number at home.
			ndd := writtenWithNDD(digits, region)
			if !ndd && phonenumbers.GetNddPrefixForRegion(region, true) != "" && !nationalShape(ts) && !spacedOut(ts) {
				continue
			}
			if e164, ok := e.validNational(digits, region); ok && (region == home || ndd || (nationalShape(ts) && !e.validHome(digits, home))) {
				cands = append(cands, cand{i, j, Match{E164: e164, Start: run[i].start, End: run[j].end, Obfuscated: obfuscatedNational(ts)}, nationalShape(ts) || spacedOut(ts)})
			}
		}
		slices.Reverse(cands[n:])
	}
	return cands
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

// nationalShape reports groups written as national numbers outside the
// NANP are: one group, or two to five groups of two digits or more
// ("07700 900461", "0491 570 158", "612 34 56 78").
func nationalShape(ts []token) bool {
	if len(ts) == 1 {
		return true
	}
	if len(ts) > 5 {
		return false
	}
	for _, t := range ts {
		if len(t.digits) < 2 {
			return false
		}
	}
	return true
}

// spacedOut reports digits written one or two at a time ("9 8 7 6 5 4 3
// 2 1 0") or in words ("tres diez siete ...").
func spacedOut(ts []token) bool {
	short := len(ts) >= 5
	for _, t := range ts {
		if t.spelled && !t.weak {
			return true
		}
		short = short && len(t.digits) <= 2
	}
	return short
}

// obfuscatedNational is obfuscated for national numbers outside the NANP.
func obfuscatedNational(ts []token) bool {
	for k, t := range ts {
		if t.spelled || (k > 0 && strings.Trim(t.gap, " -.()/+") != "") {
			return true
		}
	}
	return !nationalShape(ts)
}
