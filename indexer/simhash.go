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
	// Each bit's count of shingles with it set, in byte-wide lanes: a
	// shingle adds spread[x] for each byte x of its hash (eight additions,
	// not sixty-four), and the lanes are emptied into ones before any can
	// pass 255.
	var ones [64]int
	var lanes [8]uint64
	inLanes, total := 0, 0
	flush := func() {
		for j, l := range lanes {
			for b := range 8 {
				ones[8*j+b] += int(l >> (8 * b) & 0xff)
			}
		}
		lanes, inLanes = [8]uint64{}, 0
	}
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
		for j := range lanes {
			lanes[j] += spread[byte(v>>(8*j))]
		}
		total++
		if inLanes++; inLanes == 255 {
			flush()
		}
		if end == len(norm) {
			break
		}
	}
	flush()
	// A bit is set where more shingles have it than not.
	var out uint64
	for b, n := range ones {
		if 2*n > total {
			out |= 1 << uint(b)
		}
	}
	return out
}

// spread holds, for each byte, its eight bits one to a byte: bit b of x
// is byte b of spread[x].
var spread = func() (t [256]uint64) {
	for x := range t {
		for b := range 8 {
			if x&(1<<b) != 0 {
				t[x] |= 1 << (8 * b)
			}
		}
	}
	return t
}()

// FNV-1a's 64-bit parameters (hash/fnv).
const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)
