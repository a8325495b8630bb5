package indexer

import (
	"hash/fnv"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode"
)

// oldSimHash is SimHash as it was before FNV-1a was computed inline; the
// fingerprints are stored (the linker's saved state), so they must not move.
func oldSimHash(text string) uint64 {
	words := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) })
	norm := []rune(strings.Join(words, " "))
	if len(norm) == 0 {
		return 0
	}
	var acc [64]int
	const k = 5
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

func TestSimHashUnchanged(t *testing.T) {
	texts := []string{"", "a", "abcd", "abcde", "Hola, soy Mía — niña 21 años ñandú", "日本語のテキスト", "sweet discreet company 24/7 $200",
		"Hi gentlemen, sweet and discreet company, upscale incall only, screening required, text me anytime"}
	r := rand.New(rand.NewPCG(3, 4))
	alphabet := []rune("abcdefghij klmnopqrstuvwxyzñáéíóú ÄÖÜß日本語 0123456789.,!$-")
	for range 2000 {
		n := r.IntN(80)
		if r.IntN(10) == 0 {
			n = 200 + r.IntN(2000) // past 255 shingles, where the counts are emptied
		}
		rs := make([]rune, n)
		for i := range rs {
			rs[i] = alphabet[r.IntN(len(alphabet))]
		}
		texts = append(texts, string(rs))
	}
	for _, s := range texts {
		if got, want := SimHash(s), oldSimHash(s); got != want {
			t.Fatalf("SimHash(%q) = %016x, want %016x", s, got, want)
		}
	}
}

// FuzzSimHash holds SimHash to the plain count on any text, invalid UTF-8
// included.
func FuzzSimHash(f *testing.F) {
	f.Add("Hi gentlemen, sweet and discreet company, upscale incall only")
	f.Add(strings.Repeat("ñandú 日本 ", 120))
	f.Add("\xff\xfe abc")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := SimHash(s), oldSimHash(s); got != want {
			t.Fatalf("SimHash(%q) = %016x, want %016x", s, got, want)
		}
	})
}
