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

	patterns = []*regexp.Regexp{
		regexp.MustCompile(`\bage\s*(?:is|:|-|=)?\s*(\d{2})\b`),
		regexp.MustCompile(`\b(\d{2})[\s-]*(?:yo|y/o|y\.o\.?|yrs?\b|years?\b|year\b)(?:\s*old)?`),
		regexp.MustCompile(`\b(?:i'?m|i am|im|i’m)\s+(?:only\s+|just\s+|a\s+)?(\d{2})\b(?:\s*(?:and|&|yo|y/o|years|yrs|\.|,|!|\+|$))`),
		regexp.MustCompile(`\b(?:i'?m|i am|im|i’m)\s+(?:only\s+|just\s+)?(\d{2})$`),
		regexp.MustCompile(`\b(?:i\s+)?(?:just\s+)?turned\s+(\d{2})\b`),
	}
	// firstPerson patterns state the writer's own age ("i'm 20"): words
	// before them about someone else do not apply.
	firstPerson = map[int]bool{2: true, 3: true}
	// Words shortly before a number that make it someone else's or a past age.
	notMine = regexp.MustCompile(`\b(was|when|since|ago|daughter|son|sister|brother|kid|kids|child|friend|mom|mother|he|she|they|been doing|for)\b[^.!?\n]{0,12}$`)
	// Words shortly after a number that make it a measure, not an age.
	measure = regexp.MustCompile(`^\s*(?:lbs?|kg|cm|in|inches|ft|feet|min|mins|minutes|hrs|hours|hr|roses|\$|dollars|%)`)
)

// Find returns the distinct stated ages in text, in order of appearance.
func Find(text string) []int {
	if strings.TrimSpace(text) == "" {
		return nil
	}
	s := strings.ToLower(strings.ToValidUTF8(text, " "))
	s = wordNum.ReplaceAllStringFunc(s, func(m string) string {
		sub := wordNum.FindStringSubmatch(m)
		n := teens[sub[1]] + tens[sub[1]]
		n += units[sub[2]]
		return strconv.Itoa(n)
	})
	type hit struct{ pos, age int }
	var hits []hit
	for p, re := range patterns {
		for _, loc := range re.FindAllStringSubmatchIndex(s, -1) {
			n, err := strconv.Atoi(s[loc[2]:loc[3]])
			if err != nil || n < Youngest || n > Oldest {
				continue
			}
			if !firstPerson[p] && notMine.MatchString(s[max(0, loc[0]-24):loc[0]]) {
				continue
			}
			if measure.MatchString(s[loc[3]:]) {
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
