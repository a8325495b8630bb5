package indexer

import (
	"cmp"
	"fmt"
	"math/bits"
	"slices"
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

// bands is how many 16-bit bands a 64-bit hash is cut into.
const bands = 4

// band returns the b-th 16-bit band of h.
func band(h uint64, b int) uint32 { return uint32(h>>(16*b)) & 0xffff }

// bandRadii returns, for hashes within bound bits, how far each band is
// probed: if every band differed by more than its radius, the hashes would
// differ by at least the sum of (radius+1), more than bound. So the radii
// need only add up to bound-bands+1 (multi-index hashing's generalized
// pigeonhole): the linking threshold (8) is probed at radii 2, 1, 1, 1
// (188 values in all) rather than 2 on every band (548), the tighter
// crop-variant bound (6) at 1, 1, 1, 0 (52 values) rather than 1 on every
// band (68). Every hash within bound is still found.
func bandRadii(bound int) [bands]int {
	var r [bands]int
	need := max(bound-bands+1, 0)
	for b := range r {
		r[b] = need / bands
		if b < need%bands {
			r[b]++
		}
	}
	return r
}

// bandEntry is one stored hash: the whole hash, so that a candidate is
// checked with one popcount before anything else, its ad, and the order
// it was stored in (the same in every band).
type bandEntry struct {
	hash uint64
	ad   int32
	seq  int32
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

// photoBands is one kind of stored photo hashes (plain or crop variants)
// in its four band tables.
type photoBands struct {
	tables [bands]bandTable
	n      int32 // hashes stored: the next one's seq
}

func (p *photoBands) add(h uint64, ad int32) {
	for b := range p.tables {
		p.tables[b].add(band(h, b), bandEntry{h, ad, p.n})
	}
	p.n++
}

// within appends to out every stored hash within bound bits of h, each
// once, in no particular order.
func (p *photoBands) within(h uint64, bound int, s *lookScratch, out []bandEntry, work *workCount) []bandEntry {
	if p.tables[0].buckets == nil {
		return out
	}
	// The buckets are gathered first, then read: their addresses do not
	// depend on one another, so their cache misses overlap.
	buckets := s.buckets[:0]
	for b, r := range bandRadii(bound) {
		t := p.tables[b].buckets
		v := band(h, b)
		for _, m := range s.masks.within(r) {
			buckets = append(buckets, t[v^uint32(m)])
		}
	}
	s.buckets = buckets
	work.probes += int64(len(buckets))
	start := len(out)
	for _, bucket := range buckets {
		work.candidates += int64(len(bucket))
		for _, e := range bucket {
			if bits.OnesCount64(h^e.hash) <= bound {
				out = append(out, e)
			}
		}
	}
	if len(out)-start > 1 {
		// A hash close on several bands was found on each.
		got := out[start:]
		slices.SortFunc(got, func(a, b bandEntry) int { return cmp.Compare(a.seq, b.seq) })
		got = slices.CompactFunc(got, func(a, b bandEntry) bool { return a.seq == b.seq })
		out = out[:start+len(got)]
	}
	return out
}

// probeMasks holds, per radius, every 16-bit pattern of at most that many
// bits: the values a band is probed at are its own XOR each of them.
type probeMasks struct{ byRadius [][]uint16 }

func (p *probeMasks) within(r int) []uint16 {
	for len(p.byRadius) <= r {
		k := len(p.byRadius)
		var ms []uint16
		forEachWithin(0, 16, k, func(v uint32) { ms = append(ms, uint16(v)) })
		p.byRadius = append(p.byRadius, ms)
	}
	return p.byRadius[r]
}

// lookScratch is what a look-up reuses from one call to the next.
type lookScratch struct {
	masks   probeMasks
	buckets [][]bandEntry
	found   []bandEntry
}

// workCount counts band probes and candidate hashes compared.
type workCount struct{ probes, candidates int64 }

// probeOrder compares two stored hashes found within bound bits of h in
// the order the band tables were first read in (before bandRadii): band
// by band, each probed at radius bound/4, its values in forEachWithin's
// order, each bucket in the order its hashes were stored. Linking unites
// an ad with the ads it finds in this order, which decides the evidence
// recorded and the redirects made, so the order is kept as it was.
func probeOrder(h uint64, bound int) func(a, b bandEntry) int {
	r := bound / bands
	key := func(e bandEntry) (int, uint32) {
		for b := range bands {
			if d := band(h, b) ^ band(e.hash, b); bits.OnesCount32(d) <= r {
				return b, d
			}
		}
		return bands, 0 // not reached: by pigeonhole one band is within r
	}
	return func(x, y bandEntry) int {
		bx, dx := key(x)
		by, dy := key(y)
		if c := cmp.Compare(bx, by); c != 0 {
			return c
		}
		if c := compareWithin(dx, dy); c != 0 {
			return c
		}
		return cmp.Compare(x.seq, y.seq)
	}
}

// compareWithin compares two bit patterns in the order forEachWithin
// produces them: as the ascending lists of their set bits, a list before
// its own extensions, lists otherwise by their first differing bit.
func compareWithin(x, y uint32) int {
	for {
		switch {
		case x == y:
			return 0
		case x == 0:
			return -1
		case y == 0:
			return 1
		}
		bx, by := bits.TrailingZeros32(x), bits.TrailingZeros32(y)
		if bx != by {
			return cmp.Compare(bx, by)
		}
		x &^= 1 << bx
		y &^= 1 << by
	}
}

// nearPhotos returns the ads with a photo that imagehash.Near links to p:
// p's plain hash against stored plain hashes (within the threshold) and
// stored crop variants (within the tighter variant bound), and p's crop
// variants against stored plain hashes, each ad once, in the order the
// look-ups first meet them (probeOrder).
func (l *Linker) nearPhotos(p photo) []int32 {
	var out []int32
	var seen map[int32]bool
	found := l.scratch.found[:0]
	look := func(t *photoBands, h uint64, bound int) {
		found = t.within(h, bound, &l.scratch, found[:0], &l.work)
		if len(found) > 1 {
			slices.SortFunc(found, probeOrder(h, bound))
		}
		for _, e := range found {
			if seen == nil && len(out) >= 16 {
				seen = make(map[int32]bool, 2*len(out))
				for _, o := range out {
					seen[o] = true
				}
			}
			if seen != nil {
				if seen[e.ad] {
					continue
				}
				seen[e.ad] = true
			} else if slices.Contains(out, e.ad) {
				continue
			}
			out = append(out, e.ad)
		}
	}
	variantBound := l.threshold - variantMargin
	look(&l.plainBands, p.plain, l.threshold)
	look(&l.variantBands, p.plain, variantBound)
	for _, c := range p.crops {
		look(&l.plainBands, c, variantBound)
	}
	l.scratch.found = found[:0]
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
