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

// bandLayout is how a band table set cuts a 64-bit hash into bands (at
// most four, from the low bits up). The narrow layout is four bands of 16
// bits; the wide one three of 22, 21 and 21 bits, a bucket per 2 to 4
// million values. Probing a wide band within a radius asks many more
// buckets (254 within 2 bits of 22, against 17 within 1 of 16) but each
// holds 64 times fewer slots: at a few million stored hashes the buckets'
// slots, not the probes, are what a look-up reads, and the wide layout
// reads a tenth of them (the crop variants at a million ads: 9,600
// candidates a look-up within 6 bits narrow, about 1,000 wide).
type bandLayout struct {
	n     int
	shift [4]uint8
	width [4]uint8
}

var (
	narrowLayout = bandLayout{4, [4]uint8{0, 16, 32, 48}, [4]uint8{16, 16, 16, 16}}
	wideLayout   = bandLayout{3, [4]uint8{0, 22, 43}, [4]uint8{22, 21, 21}}
)

// band returns the b-th band of h.
func (lo *bandLayout) band(h uint64, b int) uint32 {
	return uint32(h>>lo.shift[b]) & (1<<lo.width[b] - 1)
}

// slotKey is the 32 bits of h a slot of band b keeps: those just above
// the band, wrapping round (the narrow layout: bands b+1 and b+2).
func (lo *bandLayout) slotKey(h uint64, b int) uint32 {
	return uint32(bits.RotateLeft64(h, -int(lo.shift[b]+lo.width[b])))
}

// radii returns how far each band is probed for hashes within bound bits:
// if every band differed by more than its radius, the hashes would differ
// by at least the sum of (radius+1), more than bound. So the radii need
// only add up to bound-n+1 (multi-index hashing's generalized
// pigeonhole), the first (widest) bands given the larger ones: in the
// narrow layout the linking threshold (8) is probed at radii 2, 1, 1, 1
// (188 values in all) rather than 2 on every band (548), the tighter
// crop-variant bound (6) at 1, 1, 1, 0 (52 values) rather than 1 on every
// band (68). Every hash within bound is still found.
func (lo *bandLayout) radii(bound int) [4]int {
	var r [4]int
	need := max(bound-lo.n+1, 0)
	for b := range lo.n {
		r[b] = need / lo.n
		if b < need%lo.n {
			r[b]++
		}
	}
	return r
}

// cost estimates the time of a look-up within bound among n stored hashes,
// in nanoseconds: a probe (a bucket's bounds, often a cache miss) about 40
// and a slot read about 4, the figures measured at a million ads.
func (lo *bandLayout) cost(bound, n int) float64 {
	var c float64
	radii := lo.radii(bound)
	for b, r := range radii[:lo.n] {
		probes := float64(ballSize(int(lo.width[b]), r))
		c += probes * (40 + 4*float64(n)/float64(uint64(1)<<lo.width[b]))
	}
	return c
}

// ballSize is how many values of width bits are within r bits of one.
func ballSize(width, r int) int {
	n, c := 0, 1
	for k := 0; k <= r; k++ {
		n += c
		c = c * (width - k) / (k + 1)
	}
	return n
}

// bandEntry is one hash found: the whole hash, its ad, and the order it
// was stored in.
type bandEntry struct {
	hash uint64
	ad   int32
	seq  int32
}

// bandTable is one band's buckets, a bucket per band value (65,536 in the
// narrow layout, 2 or 4 million in the wide), and in them a slot for each
// stored hash: 32 of the hash's other bits (bandLayout.slotKey), so that
// most candidates are ruled out by one popcount on the bucket's own
// bytes, and the order it was stored in (its seq), which finds the whole
// hash and its ad. A hash within bound of a probe found in a bucket at
// distance d on the band is within bound-d on these 32 bits: the filter
// loses none. Most slots are merged into
// two arrays read side by side (keys and seqs; no slack, no slice header
// per bucket); the keys are apart from the seqs because a look-up reads
// every key of a bucket and the seq of almost none. The slots stored
// since the last merge are a log (recent), each bucket's chained from its
// newest (its head) through next. A bucket's directory entry is its
// merged slots' start and its head side by side (dir[2k], dir[2k+1]; its
// end is the next bucket's start, dir[2k+2]): a probe finds both in one
// cache line. The log is merged in once it is a sixty-fourth of the
// merged slots or a quarter of the buckets, whichever is more: a probe
// meets a few recent slots at most, in a log small enough to stay in
// cache, and a merge (tens of milliseconds a table at a million ads) is
// not made for every few thousand photos. The order of the slots in a bucket
// means nothing: look-ups sort what they find.
type bandTable struct {
	dir    []uint32 // 2<<width + 1, made on first use
	keys   []uint32 // slot keys, merged
	seqs   []uint32 // slot seqs, merged
	recent []recentSlot
	own    [3]*bigArray // where dir, keys and seqs live
}

// set makes dir, keys and seqs the table's arrays and releases the old.
func (t *bandTable) set(dir, keys, seqs *bigArray) {
	t.release()
	t.own = [3]*bigArray{dir, keys, seqs}
	t.dir, t.keys, t.seqs = dir.s, keys.s, seqs.s
}

// release returns the table's arrays; it is empty after.
func (t *bandTable) release() {
	for _, a := range t.own {
		a.release()
	}
	*t = bandTable{}
}

// recentSlot is a slot stored since the last merge: its bucket, key and
// seq, and the bucket's previous recent entry, +1 (0: none).
type recentSlot struct {
	band, key, seq, next uint32
}

// mergeMin is how many recent slots a table holds at least before they
// are merged: small tables are not merged on every add.
const mergeMin = 1 << 10

func (t *bandTable) add(width uint8, k, key, seq uint32) {
	if t.dir == nil {
		t.set(newBigArray(2<<width+1), newBigArray(0), newBigArray(0))
	}
	t.recent = append(t.recent, recentSlot{k, key, seq, t.dir[2*k+1]})
	t.dir[2*k+1] = uint32(len(t.recent))
	if len(t.recent) >= max(len(t.keys)/64, len(t.dir)/8, mergeMin) {
		t.merge()
	}
}

// merge moves the recent slots into the merged arrays.
func (t *bandTable) merge() {
	n := len(t.keys) + len(t.recent)
	keysA, seqsA, dirA := newBigArray(n), newBigArray(n), newBigArray(len(t.dir))
	keys, seqs, dir := keysA.s, seqsA.s, dirA.s
	buckets := len(t.dir) / 2
	// count[k+1]: bucket k's recent slots; then where its next one goes.
	countA := newBigArray(buckets + 1)
	defer countA.release()
	count := countA.s
	for _, e := range t.recent {
		count[e.band+1]++
	}
	at := uint32(0)
	for k := range buckets {
		dir[2*k] = at
		lo, hi := t.dir[2*k], t.dir[2*k+2]
		copy(keys[at:], t.keys[lo:hi])
		copy(seqs[at:], t.seqs[lo:hi])
		at += hi - lo
		count[k] = at
		at += count[k+1]
	}
	dir[2*buckets] = at
	for _, e := range t.recent {
		keys[count[e.band]], seqs[count[e.band]] = e.key, e.seq
		count[e.band]++
	}
	recent := t.recent[:0]
	t.set(dirA, keysA, seqsA)
	t.recent = recent
}

// build makes the table anew, band b of layout lo, from every stored hash
// (by seq), merged: a count of each bucket, then each slot put in place,
// the heads used as the buckets' cursors meanwhile.
func (t *bandTable) build(lo *bandLayout, b int, hashes []uint64) {
	buckets := 1 << lo.width[b]
	dirA := newBigArray(2*buckets + 1)
	dir := dirA.s
	for _, h := range hashes {
		dir[2*lo.band(h, b)+2]++
	}
	at := uint32(0)
	for k := range buckets {
		c := dir[2*k+2]
		dir[2*k] = at
		at += c
	}
	dir[2*buckets] = at
	n := len(hashes)
	keysA, seqsA := newBigArray(n), newBigArray(n)
	keys, seqs := keysA.s, seqsA.s
	for seq, h := range hashes {
		k := lo.band(h, b)
		i := dir[2*k] + dir[2*k+1]
		dir[2*k+1]++
		keys[i], seqs[i] = lo.slotKey(h, b), uint32(seq)
	}
	for k := range buckets {
		dir[2*k+1] = 0
	}
	t.set(dirA, keysA, seqsA)
}

// photoBands is one kind of stored photo hashes (plain or crop variants):
// each hash and its ad once, by the order they were stored in (seq), and
// in each band table of its layout its slot: a probe is one index into a
// dense array, and a bucket's slots are read in sequence, 4 bytes each.
// The layout is narrow until the wide one would be cheaper for the
// look-ups the table is asked (bounds, with how many of each a photo
// asks), which is checked each time the table doubles from a million on;
// the tables are then built again from the hashes. What a look-up finds
// does not depend on the layout.
type photoBands struct {
	layout *bandLayout // nil: narrow
	tables [4]bandTable
	hashes column[uint64] // by seq
	ads    column[int32]  // by seq
	// bounds are the look-ups asked of the table, each bound with how
	// many a photo asks; none: it stays narrow.
	bounds []lookupLoad
	// relayoutAt is the size at which the layout is next reconsidered.
	relayoutAt int
	// loading is true while a loaded linker's photos are stored: the
	// hashes only, the tables built once at the end (endLoad).
	loading bool
}

// lookupLoad is how many look-ups within bound a photo asks of a table.
type lookupLoad struct{ bound, perPhoto int }

// relayoutFrom is the size from which a table's layout is reconsidered.
const relayoutFrom = 1 << 20

func (p *photoBands) lay() *bandLayout {
	if p.layout == nil {
		return &narrowLayout
	}
	return p.layout
}

func (p *photoBands) add(h uint64, ad int32) {
	seq := uint32(len(p.hashes.s))
	p.hashes.append(h)
	p.ads.append(ad)
	if p.loading {
		return
	}
	lo := p.lay()
	for b := range lo.n {
		p.tables[b].add(lo.width[b], lo.band(h, b), lo.slotKey(h, b), seq)
	}
	if len(p.hashes.s) >= p.relayoutAt {
		if best := p.pick(); best != lo {
			p.relayout(best)
		}
	}
}

// pick returns the layout for the table's size, and sets when to ask
// again (at twice the size): narrow below a million hashes or with no
// look-ups known, otherwise the cheapest.
func (p *photoBands) pick() *bandLayout {
	p.relayoutAt = max(2*len(p.hashes.s), relayoutFrom)
	if len(p.hashes.s) < relayoutFrom || len(p.bounds) == 0 {
		return p.lay()
	}
	return p.cheapest()
}

// cheapest returns the layout whose look-ups cost least at the table's
// size.
func (p *photoBands) cheapest() *bandLayout {
	best, bestCost := &narrowLayout, 0.0
	for i, lo := range []*bandLayout{&narrowLayout, &wideLayout} {
		var c float64
		for _, q := range p.bounds {
			c += float64(q.perPhoto) * lo.cost(q.bound, len(p.hashes.s))
		}
		if i == 0 || c < bestCost {
			best, bestCost = lo, c
		}
	}
	return best
}

// relayout builds the band tables again in layout lo from the hashes.
func (p *photoBands) relayout(lo *bandLayout) {
	p.layout = lo
	p.release()
	if len(p.hashes.s) == 0 {
		return
	}
	for b := range lo.n {
		p.tables[b].build(lo, b, p.hashes.s)
	}
}

// tableBytes is the size of the band tables' arrays (not the hashes),
// most of it outside the heap.
func (p *photoBands) tableBytes() int {
	n := 0
	for _, t := range p.tables {
		n += 4*(len(t.dir)+cap(t.keys)+cap(t.seqs)) + 16*cap(t.recent)
	}
	return n
}

// hashBytes is the size of the hashes and their ads, outside the heap on
// Linux past 4 MB.
func (p *photoBands) hashBytes() int { return 8*len(p.hashes.s) + 4*len(p.ads.s) }

// release returns the tables' arrays; the hashes stay.
func (p *photoBands) release() {
	for b := range p.tables {
		p.tables[b].release()
	}
}

// endLoad builds the tables of the hashes stored while loading, in the
// cheapest layout for their number: one pass a table, where storing them
// one by one would merge each slot dozens of times.
func (p *photoBands) endLoad() {
	p.loading = false
	p.relayout(p.pick())
}

// len is how many hashes are stored: the next one's seq.
func (p *photoBands) len() int { return len(p.hashes.s) }

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
	if p.tables[0].dir == nil {
		return out
	}
	// The buckets are gathered first, then read: their addresses do not
	// depend on one another, so their cache misses overlap.
	probes := s.probes[:0]
	lo := p.lay()
	radii := lo.radii(bound)
	for b, r := range radii[:lo.n] {
		t := &p.tables[b]
		v := lo.band(h, b)
		key := lo.slotKey(h, b)
		for _, m := range s.masks.within(lo.width[b], r) {
			k := v ^ m
			d := t.dir[2*k : 2*k+3 : 2*k+3]
			probes = append(probes, bandProbe{t, d[0], d[2], d[1], key, int32(bound - bits.OnesCount32(m))})
		}
	}
	s.probes = probes
	work.probes += int64(len(probes))
	// Each bucket's first key (and a long bucket's second cache line, and
	// its newest recent slot) is read before any bucket is scanned: the
	// reads do not depend on one another, so their cache misses overlap,
	// where the scan below, a bucket after another, would meet them one
	// or two at a time (at 1M ads, a fifth of a look-up's time).
	var touch uint32
	for _, pr := range probes {
		if pr.lo < pr.hi {
			touch += pr.t.keys[pr.lo]
			if pr.hi-pr.lo > 16 {
				touch += pr.t.keys[pr.lo+16]
			}
		}
		if pr.head != 0 {
			touch += pr.t.recent[pr.head-1].key
		}
	}
	s.touched += touch
	start := len(out)
	for _, pr := range probes {
		t := pr.t
		keys := t.keys[pr.lo:pr.hi]
		work.candidates += int64(len(keys))
		for j, k := range keys {
			if int32(bits.OnesCount32(pr.key^k)) <= pr.left {
				seq := t.seqs[int(pr.lo)+j]
				if hh := p.hashes.s[seq]; bits.OnesCount64(h^hh) <= bound {
					out = append(out, bandEntry{hh, p.ads.s[seq], int32(seq)})
				}
			}
		}
		for e := pr.head; e != 0; {
			r := &t.recent[e-1]
			work.candidates++
			if int32(bits.OnesCount32(pr.key^r.key)) <= pr.left {
				if hh := p.hashes.s[r.seq]; bits.OnesCount64(h^hh) <= bound {
					out = append(out, bandEntry{hh, p.ads.s[r.seq], int32(r.seq)})
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

// probeMasks holds, per band width and radius, every pattern of that
// many bits with at most that many set: the values a band is probed at
// are its own XOR each of them.
type probeMasks struct{ m map[[2]int][]uint32 }

func (p *probeMasks) within(width uint8, r int) []uint32 {
	k := [2]int{int(width), r}
	ms, ok := p.m[k]
	if !ok {
		forEachWithin(0, int(width), r, func(v uint32) { ms = append(ms, v) })
		if p.m == nil {
			p.m = map[[2]int][]uint32{}
		}
		p.m[k] = ms
	}
	return ms
}

// lookScratch is what a look-up reuses from one call to the next.
type lookScratch struct {
	masks  probeMasks
	probes []bandProbe
	found  []bandEntry
	// touched keeps the sum of the keys read ahead, so that the reads
	// are not optimized away.
	touched uint32
}

// workCount counts band probes and candidate hashes compared.
type workCount struct{ probes, candidates int64 }

// probeOrder compares two stored hashes found within bound bits of h in
// the order the band tables were first read in (before radii): band
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
