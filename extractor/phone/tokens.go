package phone

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

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
	// homophone is true for a word that sounds like its digit ("to" for 2,
	// "ate" for 8), read only glued to digits.
	homophone bool
}

// homophonesOK reports a window whose homophones are outnumbered: a
// number with "to" or "ate" in it must be written mostly in digits.
func homophonesOK(ts []token) bool {
	homo, plain, all := 0, 0, 0
	for _, t := range ts {
		all += len(t.digits)
		switch {
		case t.homophone:
			homo++
		case !t.spelled:
			plain += len(t.digits)
		}
	}
	return homo == 0 || 2*plain >= all
}

// maxGap is the most separator runes between two groups of one number.
const maxGap = 6

// runs splits text into runs of digit tokens separated only by short gaps of
// separators.
func runs(text string, lex *lexicon) [][]token {
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
	var last rune
	i := 0
	for i < len(text) {
		r, w := utf8.DecodeRuneInString(text[i:])
		if r == '\\' || r == '&' {
			// A literal escape scraped with the text (\u2022, &#8226;,
			// &amp;bull;) is one separator.
			if n, isPlus := escapeAt(text, i); n > 0 {
				plus = plus || isPlus
				gapRunes++
				last = 0
				i += n
				continue
			}
		}
		if !isAlnum(r) || (r == utf8.RuneError && w == 1) {
			if r == '+' {
				plus = true
			}
			if r == '$' || r == '%' || r == '#' {
				// A price, a percentage or a post number follows or ends here.
				flush()
			}
			// A run of one punctuation mark or symbol ("*****", "~~~")
			// counts once; spaces and newlines each count.
			if r != last || unicode.IsSpace(r) {
				gapRunes++
			}
			last = r
			i += w
			continue
		}
		last = 0
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
		if n := len(cur); lex.spanish && n > 0 && cur[n-1].tens && j == i+1 && (text[i] == 'y' || text[i] == 'Y') {
			// "setenta y tres": the "y" joins a tens word to its unit.
			gapRunes++
			i = j
			continue
		}
		gap := text[gapStart:i]
		joins := strings.Trim(gap, " -") == "" || (lex.spanish && (strings.Trim(gap, " -") == "y" || strings.Trim(gap, " -") == "Y"))
		afterPrice := i > 0 && text[i-1] == '$'
		toks, ok := lex.chunkTokens(text, i, j)
		switch {
		case !ok && !hasDigit(text[i:j]):
			// A plain word: it ends the run.
			flush()
		case !ok || afterPrice:
			// A word that is not a number: it ends the run. Digits glued
			// to it (tonight602..., Rachel567...) still form tokens.
			parts := lex.splitChunk(text, i, j)
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
					if n := len(cur); n > 0 && cur[n-1].tens && cur[n-1].end <= i && joins &&
						toks[0].spelled && len(toks[0].digits) == 1 && toks[0].digits != "0" && !toks[0].weak {
						cur[n-1].digits = cur[n-1].digits[:len(cur[n-1].digits)-1] + toks[0].digits
						cur[n-1].end = toks[0].end
						cur[n-1].tens = false
						continue
					}
					// "five hundred ten" = 510, "five hundred twenty
					// three" = 523, "five hundred one" = 501: the words
					// after "hundred" fill its two places.
					// "quinientos diez" = 510, "ochocientos setenta y
					// tres" = 873: a Spanish hundred is filled the same way.
					if n := len(cur); n > 0 && cur[n-1].hundred && strings.Trim(gap, " -") == "" && toks[0].spelled && !toks[0].weak &&
						(len(cur[n-1].digits) == 3 || (n > 1 && len(cur[n-2].digits) == 1)) &&
						(len(toks[0].digits) == 2 || (len(toks[0].digits) == 1 && toks[0].digits != "0")) {
						head := cur[n-1].digits[:len(cur[n-1].digits)-2]
						if len(toks[0].digits) == 1 {
							cur[n-1].digits = head + "0" + toks[0].digits
						} else {
							cur[n-1].digits = head + toks[0].digits
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
func (lex *lexicon) splitChunk(text string, i, j int) []token {
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
		} else if toks, ok := lex.chunkTokens(text, k, m); ok && !allWeak(toks) {
			out = append(out, toks...)
		} else if suffix, ok := lex.wordSuffix(text, k, m); ok && m < j {
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
func (lex *lexicon) wordSuffix(text string, i, j int) ([]token, bool) {
	for s := i + 1; s+3 <= j; s++ {
		if !utf8.RuneStart(text[s]) {
			continue
		}
		if toks, ok := lex.chunkTokens(text, s, j); ok && !allWeak(toks) {
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

// escapeAt returns the length of a literal escape at text[i:] that stands
// for a separator, and whether it stands for a '+': \u2022, \\u2022,
// \U0001F48B, \x95, &#8226;, &#x2022;, &bull;, &amp;bull;, &amp;#8226;.
// It returns 0 for anything else, and for an escape of a letter or a digit.
func escapeAt(text string, i int) (int, bool) {
	j := i
	if text[j] == '\\' {
		for j < len(text) && text[j] == '\\' {
			j++
		}
		if j >= len(text) {
			return 0, false
		}
		hex := map[byte]int{'u': 4, 'U': 8, 'x': 2}[text[j]]
		if hex == 0 || j+1+hex > len(text) {
			return 0, false
		}
		v, ok := parseHex(text[j+1 : j+1+hex])
		if !ok || (hex > 2 && isAlnum(rune(v))) {
			return 0, false
		}
		return j + 1 + hex - i, v == '+'
	}
	// &amp; repeated: an entity escaped once or more on the way.
	j++
	for strings.HasPrefix(text[j:], "amp;") {
		j += len("amp;")
	}
	end := strings.IndexByte(text[j:min(len(text), j+12)], ';')
	if end < 0 {
		if j > i+1 {
			return j - i, false // a lone "&amp;": an ampersand
		}
		return 0, false
	}
	name := text[j : j+end]
	var v int
	switch {
	case strings.HasPrefix(name, "#x") || strings.HasPrefix(name, "#X"):
		n, ok := parseHex(name[2:])
		if !ok {
			return 0, false
		}
		v = n
	case strings.HasPrefix(name, "#"):
		n, err := strconv.Atoi(name[1:])
		if err != nil || n < 0 {
			return 0, false
		}
		v = n
	default:
		if len(name) < 2 {
			return 0, false
		}
		for k := 0; k < len(name); k++ {
			if c := name[k] | 0x20; c < 'a' || c > 'z' {
				return 0, false
			}
		}
		// A named entity: letters (&eacute;) are not separators.
		if letterEntity(name) {
			return 0, false
		}
		return j + end + 1 - i, name == "plus"
	}
	if v > unicode.MaxRune || isAlnum(rune(v)) {
		return 0, false
	}
	return j + end + 1 - i, v == '+'
}

// letterEntity reports named entities of letters: &eacute;, &ntilde;,
// &auml;, &szlig; and the like.
func letterEntity(name string) bool {
	for _, suf := range []string{"acute", "grave", "tilde", "uml", "circ", "ring", "cedil", "slash", "lig", "zlig"} {
		if strings.HasSuffix(name, suf) && len(name) > len(suf) {
			return true
		}
	}
	return false
}

func parseHex(s string) (int, bool) {
	if s == "" || len(s) > 8 {
		return 0, false
	}
	v := 0
	for k := 0; k < len(s); k++ {
		c := s[k]
		switch {
		case c >= '0' && c <= '9':
			v = v*16 + int(c-'0')
		case c|0x20 >= 'a' && c|0x20 <= 'f':
			v = v*16 + int(c|0x20-'a'+10)
		default:
			return 0, false
		}
	}
	return v, true
}
