package indexer

import (
	"fmt"
	"math/bits"
	"strconv"

	"github.com/adwatch/adwatch/internal/record"
)

// photo is one image's perceptual hash and those of its crop variants.
type photo struct {
	plain uint64
	crops []uint64
}

func parsePhoto(img record.Image) (photo, bool) {
	if img.PHash == "" {
		return photo{}, false
	}
	h, err := parseHash(img.PHash)
	if err != nil {
		return photo{}, false
	}
	p := photo{plain: h}
	for _, c := range img.PHashCrops {
		if v, err := parseHash(c); err == nil {
			p.crops = append(p.crops, v)
		}
	}
	return p, true
}

// bands is how many 16-bit bands a 64-bit hash is cut into. Two hashes
// within bound bits agree, by pigeonhole, within bound/4 bits on one band:
// the linking threshold (8) is probed at radius 2 (137 values a band), the
// tighter crop-variant bound (6) at radius 1 (17 values a band).
const bands = 4

// band returns the b-th 16-bit band of h.
func band(h uint64, b int) uint32 { return uint32(h>>(16*b)) & 0xffff }

// bandEntry is one stored hash: the whole hash, so that a candidate is
// checked with one popcount before anything else, and its ad.
type bandEntry struct {
	hash uint64
	ad   int32
}

// bandTable holds, for each of the 65,536 values of one band, the hashes
// stored under it, in one slice: a probe is one index into a dense array,
// and a bucket's entries are read in sequence.
type bandTable struct {
	buckets [][]bandEntry // allocated on first use
}

func (t *bandTable) add(k uint32, e bandEntry) {
	if t.buckets == nil {
		t.buckets = make([][]bandEntry, 1<<16)
	}
	t.buckets[k] = append(t.buckets[k], e)
}

func (t *bandTable) get(k uint32) []bandEntry {
	if t.buckets == nil {
		return nil
	}
	return t.buckets[k]
}

func addBands(t *[bands]*bandTable, h uint64, ad int32) {
	for b, tb := range t {
		tb.add(band(h, b), bandEntry{h, ad})
	}
}

// nearPhotos returns the ads with a photo that imagehash.Near links to p:
// p's plain hash against stored plain hashes (within the threshold) and
// stored crop variants (within the tighter variant bound), and p's crop
// variants against stored plain hashes. Two hashes within a bound agree,
// by pigeonhole, within bound/4 bits on one of the four bands.
func (l *Linker) nearPhotos(p photo) []int32 {
	seen := map[int32]bool{}
	var out []int32
	probe := func(t *[bands]*bandTable, h uint64, bound int) {
		radius := bound / bands
		for b, tb := range t {
			forEachWithin(band(h, b), 16, radius, func(v uint32) {
				l.work.probes++
				for _, e := range tb.get(v) {
					l.work.candidates++
					// The probe's own pair (query hash, stored hash) decides:
					// this is the distance imagehash.Near would find for it.
					if hamming(h, e.hash) > bound || seen[e.ad] {
						continue
					}
					seen[e.ad] = true
					out = append(out, e.ad)
				}
			})
		}
	}
	variantBound := l.threshold - variantMargin
	probe(&l.plainBands, p.plain, l.threshold)
	probe(&l.variantBands, p.plain, variantBound)
	for _, c := range p.crops {
		probe(&l.plainBands, c, variantBound)
	}
	return out
}

// The hash helpers below are extractor/imagehash's, kept here so that the
// indexer does not import the image decoders; a test holds them equal.

// variantMargin tightens the threshold for matches through crop variants
// (imagehash.VariantMargin).
const variantMargin = 2

// hamming is the Hamming distance between two hashes (imagehash.Distance).
func hamming(a, b uint64) int { return bits.OnesCount64(a ^ b) }

// hexHash formats a hash as 16 hex digits (imagehash.Hex).
func hexHash(h uint64) string { return fmt.Sprintf("%016x", h) }

// parseHash reads a hash written by hexHash (imagehash.ParseHex).
func parseHash(s string) (uint64, error) { return strconv.ParseUint(s, 16, 64) }

// forEachWithin calls f with every value of width bits within Hamming
// radius r of v.
func forEachWithin(v uint32, width, r int, f func(uint32)) {
	var rec func(val uint32, from, left int)
	rec = func(val uint32, from, left int) {
		f(val)
		if left == 0 {
			return
		}
		for bit := from; bit < width; bit++ {
			rec(val^(1<<bit), bit+1, left-1)
		}
	}
	rec(v, 0, r)
}

// SimilarPhotos returns the profiles with a photo that links to the given
// fingerprint.
func (l *Linker) SimilarPhotos(plain uint64, crops []uint64) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ensureLookups()
	set := map[string]bool{}
	for _, o := range l.nearPhotos(photo{plain: plain, crops: crops}) {
		set[l.profile(o)] = true
	}
	return sortedKeys(set)
}
