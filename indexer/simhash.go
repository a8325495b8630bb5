package indexer

import (
	"strings"
	"unicode"
	"unicode/utf8"
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
	var buf [k * utf8.UTFMax]byte
	for i := 0; i+k <= len(norm) || i == 0; i++ {
		end := min(i+k, len(norm))
		// FNV-1a (hash/fnv's New64a) of the shingle's UTF-8 bytes.
		shingle := buf[:0]
		for _, r := range norm[i:end] {
			shingle = utf8.AppendRune(shingle, r)
		}
		v := uint64(fnvOffset64)
		for _, c := range shingle {
			v ^= uint64(c)
			v *= fnvPrime64
		}
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

// FNV-1a's 64-bit parameters (hash/fnv).
const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)
