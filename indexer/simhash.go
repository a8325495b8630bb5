package indexer

import (
	"hash/fnv"
	"strings"
	"unicode"
)

// SimHash is a 64-bit fingerprint of a text's character 5-shingles: texts that
// share most shingles (an ad template with a few words changed) are a few
// bits apart. Digits are dropped first, so a template with another phone
// number or price is the same template.
func SimHash(text string) uint64 {
	words := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) })
	norm := []rune(strings.Join(words, " "))
	if len(norm) == 0 {
		return 0
	}
	var acc [64]int
	const k = 5 // character shingles: stable on short texts
	for i := 0; i+k <= len(norm) || i == 0; i++ {
		end := min(i+k, len(norm))
		h := fnv.New64a()
		_, _ = h.Write([]byte(string(norm[i:end])))
		v := h.Sum64()
		for b := range acc {
			if v&(1<<uint(b)) != 0 {
				acc[b]++
			} else {
				acc[b]--
			}
		}
		if end == len(norm) {
			break
		}
	}
	var out uint64
	for b, v := range acc {
		if v > 0 {
			out |= 1 << uint(b)
		}
	}
	return out
}
