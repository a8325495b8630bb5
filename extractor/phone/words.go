package phone

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// word is a number word and the digits it stands for.
type word struct {
	text   string
	digits string
	tens   bool // twenty..ninety: may combine with a following unit
	weak   bool
	// glued words ("to" for 2, "ate" for 8) are digits only glued to
	// digits ("oh1to3", "ate73"); alone they are words.
	glued bool
}

var words = []word{
	{"zero", "0", false, false, false}, {"oh", "0", false, true, false}, {"o", "0", false, true, false},
	{"one", "1", false, false, false}, {"won", "1", false, false, false}, {"two", "2", false, false, false},
	{"too", "2", false, true, false}, {"three", "3", false, false, false}, {"four", "4", false, false, false},
	{"for", "4", false, true, false}, {"five", "5", false, false, false}, {"six", "6", false, false, false},
	{"seven", "7", false, false, false}, {"eight", "8", false, false, false}, {"nine", "9", false, false, false},
	{"ten", "10", false, false, false}, {"eleven", "11", false, false, false}, {"twelve", "12", false, false, false},
	{"thirteen", "13", false, false, false}, {"fourteen", "14", false, false, false}, {"fifteen", "15", false, false, false},
	{"sixteen", "16", false, false, false}, {"seventeen", "17", false, false, false}, {"eighteen", "18", false, false, false},
	{"nineteen", "19", false, false, false}, {"twenty", "20", true, false, false}, {"thirty", "30", true, false, false},
	{"forty", "40", true, false, false}, {"fourty", "40", true, false, false}, {"fifty", "50", true, false, false},
	{"sixty", "60", true, false, false}, {"seventy", "70", true, false, false}, {"eighty", "80", true, false, false},
	{"ninety", "90", true, false, false}, {"hundred", "00", false, false, false}, {"thousand", "000", false, false, false},
	{"l", "1", false, true, false}, {"i", "1", false, true, false},
	{"to", "2", false, true, true}, {"ate", "8", false, true, true},
}

// spanishWords are the Spanish number words, read in ads in Spanish
// besides the English ones: "cinco uno cero", "ocho setenta y tres",
// "quinientos diez". Accents are folded ("dieciséis" is "dieciseis").
var spanishWords = []word{
	{"cero", "0", false, false, false}, {"uno", "1", false, false, false}, {"dos", "2", false, false, false},
	{"tres", "3", false, false, false}, {"cuatro", "4", false, false, false}, {"cinco", "5", false, false, false},
	{"seis", "6", false, false, false}, {"siete", "7", false, false, false}, {"ocho", "8", false, false, false},
	{"nueve", "9", false, false, false}, {"diez", "10", false, false, false}, {"once", "11", false, false, false},
	{"doce", "12", false, false, false}, {"trece", "13", false, false, false}, {"catorce", "14", false, false, false},
	{"quince", "15", false, false, false}, {"dieciseis", "16", false, false, false}, {"diecisiete", "17", false, false, false},
	{"dieciocho", "18", false, false, false}, {"diecinueve", "19", false, false, false},
	{"veinte", "20", true, false, false}, {"veintiuno", "21", false, false, false}, {"veintidos", "22", false, false, false},
	{"veintitres", "23", false, false, false}, {"veinticuatro", "24", false, false, false}, {"veinticinco", "25", false, false, false},
	{"veintiseis", "26", false, false, false}, {"veintisiete", "27", false, false, false}, {"veintiocho", "28", false, false, false},
	{"veintinueve", "29", false, false, false}, {"treinta", "30", true, false, false}, {"cuarenta", "40", true, false, false},
	{"cincuenta", "50", true, false, false}, {"sesenta", "60", true, false, false}, {"setenta", "70", true, false, false},
	{"ochenta", "80", true, false, false}, {"noventa", "90", true, false, false}, {"cien", "100", false, false, false},
	{"ciento", "100", false, false, false}, {"doscientos", "200", false, false, false}, {"trescientos", "300", false, false, false},
	{"cuatrocientos", "400", false, false, false}, {"quinientos", "500", false, false, false}, {"seiscientos", "600", false, false, false},
	{"setecientos", "700", false, false, false}, {"ochocientos", "800", false, false, false}, {"novecientos", "900", false, false, false},
}

// lexicon is a set of number words indexed by their (ASCII) first letter.
type lexicon struct {
	byFirst [128][]word
	// spanish lexicons join "setenta y tres" and read "ciento", "quinientos"
	// as hundreds a following number fills.
	spanish bool
}

func newLexicon(spanish bool, lists ...[]word) *lexicon {
	l := &lexicon{spanish: spanish}
	for _, ws := range lists {
		for _, w := range ws {
			l.byFirst[w.text[0]] = append(l.byFirst[w.text[0]], w)
		}
	}
	return l
}

var (
	english = newLexicon(false, words)
	spanish = newLexicon(true, words, spanishWords)
)

// hundreds reports a word that a following number fills: "hundred" (its
// two places), "ciento", "quinientos" (their last two).
func (w word) hundreds() bool {
	return w.text == "hundred" || w.text == "ciento" || strings.HasSuffix(w.text, "ientos")
}

// wordsStarting returns the number words that may start with r (folded).
func (l *lexicon) wordsStarting(r rune) []word {
	if r < 0 || r >= 128 {
		return nil
	}
	return l.byFirst[r]
}

// startsWithWord reports whether s begins with a number word.
func (l *lexicon) startsWithWord(s string) bool {
	first, _ := utf8.DecodeRuneInString(s)
	for _, w := range l.wordsStarting(fold(first)) {
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

// fold lowercases r and reads leetspeak digits inside words as letters.
// Accented vowels are read without their accent ("veintitrés").
func fold(r rune) rune {
	switch r {
	case '0':
		return 'o'
	case '1':
		return 'l'
	case '3':
		return 'e'
	case 'á', 'Á':
		return 'a'
	case 'é', 'É':
		return 'e'
	case 'í', 'Í':
		return 'i'
	case 'ó', 'Ó':
		return 'o'
	case 'ú', 'Ú', 'ü', 'Ü':
		return 'u'
	}
	return unicode.ToLower(r)
}

// chunkTokens reads text[i:j] as a sequence of digits and number words.
// It reports false when some part of it is neither.
func (l *lexicon) chunkTokens(text string, i, j int) ([]token, bool) {
	if allASCIIDigits(text[i:j]) {
		return []token{{digits: text[i:j], start: i, end: j}}, true
	}
	first, _ := utf8.DecodeRuneInString(text[i:j])
	if !unicode.IsDigit(first) && !l.startsWithWord(text[i:j]) {
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
		for _, w := range l.wordsStarting(fold(rs[k])) {
			wl := len(w.text)
			if k+wl > n || best[k+wl] >= inf {
				continue
			}
			if matchWord(rs[k:k+wl], w.text) && best[k+wl]+1 < best[k] {
				best[k] = best[k+wl] + 1
				choice[k] = wl
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
		wl := choice[k]
		w := l.lookup(rs[k : k+wl])
		t := token{digits: w.digits, start: offs[k], end: offs[k+wl], spelled: true, weak: w.weak, tens: w.tens, hundred: w.hundreds(), homophone: w.glued}
		k += wl
		// twenty + six = 26
		if w.tens && k < n && choice[k] != 0 {
			if u := l.lookup(rs[k : k+choice[k]]); len(u.digits) == 1 && u.digits != "0" && !u.weak {
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
	// only weak words ("I", "o", "for") stays weak, unless a word in it is
	// a digit only glued to digits ("to", "late"): then it is a word.
	if allWeak(merged) {
		for _, t := range merged {
			if t.homophone {
				return nil, false
			}
		}
	} else {
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

func (l *lexicon) lookup(rs []rune) word {
	for _, w := range l.wordsStarting(fold(rs[0])) {
		if len(w.text) == len(rs) && matchWord(rs, w.text) {
			return w
		}
	}
	return word{}
}
