// Package age finds the stated age of the advertised person in ad text:
// "Age: 19", "19yo", "i'm 21", "twenty two years old". It leaves out past
// ages ("when I was 16"), other people's ages, measurements, prices and
// years.
package age

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Youngest and Oldest bound the ages reported; numbers outside are not ages.
const (
	Youngest = 12
	Oldest   = 70
)

var (
	units = map[string]int{"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9}
	teens = map[string]int{"twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19}
	tens  = map[string]int{"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60}

	wordNum = regexp.MustCompile(`\b(twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty)(?:[\s-]*(one|two|three|four|five|six|seven|eight|nine)\b)?`)

	// Spanish number words 12..70: "diecinueve", "veintidós", "treinta y
	// dos" (accents are dropped before).
	esUnits = map[string]int{"uno": 1, "un": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "siete": 7, "ocho": 8, "nueve": 9}
	esWords = map[string]int{"doce": 12, "trece": 13, "catorce": 14, "quince": 15, "dieciseis": 16, "diecisiete": 17,
		"dieciocho": 18, "diecinueve": 19, "veinte": 20, "veintiuno": 21, "veintiun": 21, "veintidos": 22, "veintitres": 23,
		"veinticuatro": 24, "veinticinco": 25, "veintiseis": 26, "veintisiete": 27, "veintiocho": 28, "veintinueve": 29,
		"treinta": 30, "cuarenta": 40, "cincuenta": 50, "sesenta": 60, "setenta": 70}
	esWordNum = regexp.MustCompile(`\b(doce|trece|catorce|quince|dieciseis|diecisiete|dieciocho|diecinueve|veintiuno|veintiun|veintidos|veintitres|veinticuatro|veinticinco|veintiseis|veintisiete|veintiocho|veintinueve|veinte|treinta|cuarenta|cincuenta|sesenta|setenta)(?:\s+y\s+(uno|un|dos|tres|cuatro|cinco|seis|siete|ocho|nueve)\b)?`)
	accents   = strings.NewReplacer("á", "a", "é", "e", "í", "i", "ó", "o", "ú", "u")

	// rangePattern is a recruiting range: "ladies 21-30 years old" gives
	// both ends.
	rangePattern = regexp.MustCompile(`\b(\d{2})\s*(?:-|–|to|a)\s*(\d{2})\s*(?:yo\b|y/o|y\.o\.?|yrs?\b|years?\b|años|anos)`)

	patterns = []pattern{
		{regexp.MustCompile(`\bage\s*(?:is|:|-|=)?\s*(\d{2})\b`), []string{"age"}},
		{regexp.MustCompile(`\b(\d{2})[\s-]*(?:yo|y/o|y\.o\.?|yrs?\b|years?\b|year\b)(?:\s*old)?`), []string{"y"}},
		{regexp.MustCompile(`\b(?:i'?m|i am|im|i’m)\s+(?:only\s+|just\s+|a\s+)?(\d{2})\b(?:\s*(?:and|&|yo|y/o|years|yrs|\.|,|!|\+|$))`), firstPersonWords},
		{regexp.MustCompile(`\b(?:i'?m|i am|im|i’m)\s+(?:only\s+|just\s+)?(\d{2})$`), firstPersonWords},
		{regexp.MustCompile(`\b(?:i\s+)?(?:just\s+)?turned\s+(\d{2})\b`), []string{"turned"}},
		// The classic classified title: "Sweet and new in town - 22 -".
		{regexp.MustCompile(`(?m)(?:^|\s)[-–—]\s*(\d{2})\s*(?:[-–—]\s*)?$`), []string{"-", "–", "—"}},
		// Spanish: "tengo 19 años", "19 añitos", "19 anos", "edad: 19",
		// "recién cumplidos los 18".
		{regexp.MustCompile(`\b(\d{2})\s*(?:años|añitos|anos|anitos)`), []string{"años", "añitos", "anos", "anitos"}},
		{regexp.MustCompile(`\btengo\s+(?:solo\s+|apenas\s+)?(\d{2})\b`), []string{"tengo"}},
		{regexp.MustCompile(`\bedad\s*(?::|-|=)?\s*(\d{2})\b`), []string{"edad"}},
		{regexp.MustCompile(`\b(?:cumpli|cumplidos|cumplidas)\s+(?:los\s+)?(\d{2})\b`), []string{"cumpli"}},
	}
	// firstPersonWords are what "i'm", "im", "i am" and "i’m" begin with.
	firstPersonWords = []string{"im", "i'm", "i am", "i’m"}
	// rangeWords are what a range's unit begins with.
	rangeWords = []string{"y", "años", "anos"}
	// wordNumWords are in every English number word wordNum knows.
	wordNumWords = []string{"teen", "twelve", "twenty", "thirty", "forty", "fifty", "sixty"}
	// esWordNumWords begin every Spanish number word esWordNum knows.
	esWordNumWords = []string{"doce", "trece", "catorce", "quince", "dieci", "veint", "treinta", "cuarenta", "cincuenta", "sesenta", "setenta"}
	// firstPerson patterns state the writer's own age ("i'm 20"): words
	// before them about someone else do not apply.
	// The dash title pattern stands alone: "ask for Jade - 26 -".
	firstPerson = map[int]bool{2: true, 3: true, 5: true, 7: true, 9: true}
	// limit is a site's age limit after a number: "18+ only".
	limit = regexp.MustCompile(`^\+`)
	// Words shortly before a number that make it someone else's or a past age.
	notMine = regexp.MustCompile(`\b(was|when|since|ago|daughter|son|sister|brother|kid|kids|child|friend|mom|mother|he|she|they|been doing|for|under|over|must be|at least|older than|you are|you're|models were|hace|cuando|tenia|mi hija|mi hijo|mi hermana|mi amiga|desde|mayores de|menores de)\b[^.!?\n]{0,12}$`)
	// Words shortly after a number that make it a measure, not an age, or a
	// site's age limit ("18+ only", "18 years or older").
	measure = regexp.MustCompile(`^\s*(?:lbs?|kg|kilos|cm|in|inches|ft|feet|min|mins|minutes|hrs|hours|hr|roses|\$|dollars|%|(?:years?\s+(?:of\s+age\s+)?)?(?:or|and)\s+(?:older|over|up)|(?:años|anos)\s+de\s+experiencia|(?:años|anos)\s+o\s+mas|years?\s+(?:of\s+)?experience)`)
)

// pattern is a stated-age pattern and the words one of which every match
// contains: a text without any of them is not searched at all.
type pattern struct {
	re   *regexp.Regexp
	need []string
}

// containsAny reports whether s contains one of words.
func containsAny(s string, words []string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// Find returns the distinct stated ages in text, in order of appearance.
func Find(text string) []int {
	if strings.TrimSpace(text) == "" {
		return nil
	}
	s := strings.ToLower(strings.ToValidUTF8(text, " "))
	if containsAny(s, wordNumWords) {
		s = wordNum.ReplaceAllStringFunc(s, func(m string) string {
			sub := wordNum.FindStringSubmatch(m)
			n := teens[sub[1]] + tens[sub[1]]
			n += units[sub[2]]
			return strconv.Itoa(n)
		})
	}
	if strings.ContainsAny(s, "áéíóú") || (containsAny(s, esWordNumWords) && esWordNum.MatchString(s)) {
		s = accents.Replace(s)
		s = esWordNum.ReplaceAllStringFunc(s, func(m string) string {
			sub := esWordNum.FindStringSubmatch(m)
			return strconv.Itoa(esWords[sub[1]] + esUnits[sub[2]])
		})
	}
	type hit struct{ pos, age int }
	var hits []hit
	if !hasTwoDigits(s) {
		return nil
	}
	for _, loc := range rangeMatches(s) {
		lo, _ := strconv.Atoi(s[loc[2]:loc[3]])
		hi, _ := strconv.Atoi(s[loc[4]:loc[5]])
		if lo < Youngest || hi > Oldest || lo >= hi || notMine.MatchString(s[max(0, loc[0]-24):loc[0]]) {
			continue
		}
		hits = append(hits, hit{loc[2], lo}, hit{loc[4], hi})
	}
	for p, pat := range patterns {
		if !containsAny(s, pat.need) {
			continue
		}
		for _, loc := range pat.re.FindAllStringSubmatchIndex(s, -1) {
			n, err := strconv.Atoi(s[loc[2]:loc[3]])
			if err != nil || n < Youngest || n > Oldest {
				continue
			}
			if !firstPerson[p] && notMine.MatchString(s[max(0, loc[0]-24):loc[0]]) {
				continue
			}
			if measure.MatchString(s[loc[3]:]) || (!firstPerson[p] && limit.MatchString(s[loc[3]:])) {
				continue
			}
			hits = append(hits, hit{loc[2], n})
		}
	}
	sort.Slice(hits, func(i, j int) bool { return hits[i].pos < hits[j].pos })
	var out []int
	seen := map[int]bool{}
	for _, h := range hits {
		if !seen[h.age] {
			seen[h.age] = true
			out = append(out, h.age)
		}
	}
	return out
}

// rangeMatches are the matches of rangePattern in s.
func rangeMatches(s string) [][]int {
	if !containsAny(s, rangeWords) {
		return nil
	}
	return rangePattern.FindAllStringSubmatchIndex(s, -1)
}

// hasTwoDigits reports whether s holds two ASCII digits in a row, which
// every pattern's age (\d{2}) is.
func hasTwoDigits(s string) bool {
	for i := 1; i < len(s); i++ {
		if s[i]-'0' < 10 && s[i-1]-'0' < 10 {
			return true
		}
	}
	return false
}
