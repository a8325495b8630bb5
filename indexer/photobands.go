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

// bandEntry is one hash found: the whole hash, its ad, and the order it
// was stored in.
type bandEntry struct {
	hash uint64
	ad   int32
	seq  int32
}

// A band table keeps, for each stored hash, a slot: 32 of the hash's
// other 48 bits (its next two bands, slotKey), so that most candidates are
// ruled out by one popcount on the bucket's own bytes, and the order it
// was stored in (its seq), which finds the whole hash and its ad. A hash
// within bound of a probe found in a bucket at distance d on the band is
// within bound-d on these 32 bits: the filter loses none.

// slotKey is the bits of h a slot of band b keeps: bands b+1 and b+2
// (modulo bands).
func slotKey(h uint64, b int) uint32 { return uint32(bits.RotateLeft64(h, -16*(b+1))) }

// bandTable is one band's buckets, a bucket per band value (65,536).
// Most slots are merged into two arrays read side by side (keys and seqs,
// bucket k's from off[k] to off[k+1]: no slack, no slice header per
// bucket); the keys are apart from the seqs because a look-up reads every
// key of a bucket and the seq of almost none. The slots stored since the
// last merge are a log (recent), each bucket's chained from its newest
// (head) through next: a probe reads one more word (its head) and, in a
// bucket that has any, a few entries of a log small enough to stay in
// cache. They are merged in once they are a thirty-second of the merged
// ones, which copies each slot about 32 times over its life (a merge at a
// million ads is tens of milliseconds a table) and keeps the log small.
// The order of the slots in a bucket means nothing: look-ups sort what
// they find.
type bandTable struct {
	off    []uint32 // 1<<16 + 1, made on first use
	keys   []uint32 // slot keys, merged
	seqs   []uint32 // slot seqs, merged
	head   []uint32 // 1<<16: each bucket's newest recent entry, +1 (0: none)
	recent []recentSlot
}

// recentSlot is a slot stored since the last merge: its bucket, key and
// seq, and the bucket's previous recent entry, +1 (0: none).
type recentSlot struct {
	band, key, seq, next uint32
}

// mergeMin is how many recent slots a table holds at least before they
// are merged: small tables are not merged on every add.
const mergeMin = 1 << 10

func (t *bandTable) add(k, key, seq uint32) {
	if t.off == nil {
		t.off = make([]uint32, 1<<16+1)
		t.head = make([]uint32, 1<<16)
	}
	t.recent = append(t.recent, recentSlot{k, key, seq, t.head[k]})
	t.head[k] = uint32(len(t.recent))
	if len(t.recent) >= max(len(t.keys)/64, mergeMin) {
		t.merge()
	}
}

// merge moves the recent slots into the merged arrays.
func (t *bandTable) merge() {
	n := len(t.keys) + len(t.recent)
	keys, seqs := makeLarge(n), makeLarge(n)
	keys, seqs = keys[:n], seqs[:n]
	// pos[k]: where bucket k's next recent slot goes, once its merged
	// slots are copied.
	pos := make([]uint32, 1<<16+1)
	for _, e := range t.recent {
		pos[e.band+1]++
	}
	off := make([]uint32, 1<<16+1)
	at := uint32(0)
	for k := range 1 << 16 {
		off[k] = at
		lo, hi := t.off[k], t.off[k+1]
		copy(keys[at:], t.keys[lo:hi])
		copy(seqs[at:], t.seqs[lo:hi])
		at += hi - lo
		pos[k] = at
		at += pos[k+1]
	}
	off[1<<16] = at
	for _, e := range t.recent {
		keys[pos[e.band]], seqs[pos[e.band]] = e.key, e.seq
		pos[e.band]++
	}
	t.off, t.keys, t.seqs = off, keys, seqs
	clear(t.head)
	t.recent = t.recent[:0]
}

// photoBands is one kind of stored photo hashes (plain or crop variants):
// each hash and its ad once, by the order they were stored in (seq), and
// in each of the four band tables its slot: a probe is one index into a
// dense array, and a bucket's slots are read in sequence, 8 bytes each.
type photoBands struct {
	tables [bands]bandTable
	hashes []uint64 // by seq
	ads    []int32  // by seq
}

func (p *photoBands) add(h uint64, ad int32) {
	seq := uint32(len(p.hashes))
	p.hashes = append(p.hashes, h)
	p.ads = append(p.ads, ad)
	for b := range p.tables {
		p.tables[b].add(band(h, b), slotKey(h, b), seq)
	}
}

// len is how many hashes are stored: the next one's seq.
func (p *photoBands) len() int { return len(p.hashes) }

// bandProbe is one bucket to read: its table, its merged slots (from lo
// to hi), its newest recent slot (+1, 0: none), the probe's key for them,
// and how many bits they may differ by.
type bandProbe struct {
	t         *bandTable
	lo, hi    uint32
	head, key uint32
	left      int32
}

// within appends to out every stored hash within bound bits of h, each
// once, in no particular order.
func (p *photoBands) within(h uint64, bound int, s *lookScratch, out []bandEntry, work *workCount) []bandEntry {
	if p.tables[0].off == nil {
		return out
	}
	// The buckets are gathered first, then read: their addresses do not
	// depend on one another, so their cache misses overlap.
	probes := s.probes[:0]
	for b, r := range bandRadii(bound) {
		t := &p.tables[b]
		v := band(h, b)
		key := slotKey(h, b)
		for _, m := range s.masks.within(r) {
			k := v ^ uint32(m)
			probes = append(probes, bandProbe{t, t.off[k], t.off[k+1], t.head[k], key, int32(bound - bits.OnesCount16(m))})
		}
	}
	s.probes = probes
	work.probes += int64(len(probes))
	start := len(out)
	for _, pr := range probes {
		t := pr.t
		keys := t.keys[pr.lo:pr.hi]
		work.candidates += int64(len(keys))
		for j, k := range keys {
			if int32(bits.OnesCount32(pr.key^k)) <= pr.left {
				seq := t.seqs[int(pr.lo)+j]
				if hh := p.hashes[seq]; bits.OnesCount64(h^hh) <= bound {
					out = append(out, bandEntry{hh, p.ads[seq], int32(seq)})
				}
			}
		}
		for e := pr.head; e != 0; {
			r := &t.recent[e-1]
			work.candidates++
			if int32(bits.OnesCount32(pr.key^r.key)) <= pr.left {
				if hh := p.hashes[r.seq]; bits.OnesCount64(h^hh) <= bound {
					out = append(out, bandEntry{hh, p.ads[r.seq], int32(r.seq)})
				}
			}
			e = r.next
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
	masks  probeMasks
	probes []bandProbe
	found  []bandEntry
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
