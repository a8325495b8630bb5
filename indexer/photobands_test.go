package indexer

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/adwatch/adwatch/extractor/imagehash"
)

// The indexer keeps its own copies of imagehash's hash helpers so as not
// to import the image decoders; they must stay the same.
func TestHashHelpersMatchImagehash(t *testing.T) {
	if variantMargin != imagehash.VariantMargin {
		t.Errorf("variantMargin = %d, imagehash.VariantMargin = %d", variantMargin, imagehash.VariantMargin)
	}
	for _, h := range []uint64{0, 1, 0xdeadbeef, 0x8000000000000001, ^uint64(0)} {
		for _, o := range []uint64{0, 0xff00ff00ff00ff00, ^uint64(0)} {
			if got, want := hamming(h, o), imagehash.Distance(h, o); got != want {
				t.Errorf("hamming(%x, %x) = %d, want %d", h, o, got, want)
			}
		}
		if got, want := hexHash(h), imagehash.Hex(h); got != want {
			t.Errorf("hexHash(%x) = %q, want %q", h, got, want)
		}
		got, err := parseHash(imagehash.Hex(h))
		want, werr := imagehash.ParseHex(imagehash.Hex(h))
		if got != want || (err == nil) != (werr == nil) {
			t.Errorf("parseHash(%q) = %x, %v; want %x, %v", imagehash.Hex(h), got, err, want, werr)
		}
	}
	for _, s := range []string{"", "xyz", "12345678901234567"} {
		_, err := parseHash(s)
		_, werr := imagehash.ParseHex(s)
		if (err == nil) != (werr == nil) {
			t.Errorf("parseHash(%q) error %v, imagehash.ParseHex error %v", s, err, werr)
		}
	}
}

// oldNearPhotos is the look-up nearPhotos replaced: every band probed at
// radius bound/4, the buckets read in forEachWithin's order. The new one
// must find the same ads in the same order.
func oldNearPhotos(plain, variant *[bands]map[uint32][]bandEntry, threshold int, p photo) []int32 {
	seen := map[int32]bool{}
	var out []int32
	probe := func(t *[bands]map[uint32][]bandEntry, h uint64, bound int) {
		for b, tb := range t {
			forEachWithin(band(h, b), 16, bound/bands, func(v uint32) {
				for _, e := range tb[v] {
					if hamming(h, e.hash) > bound || seen[e.ad] {
						continue
					}
					seen[e.ad] = true
					out = append(out, e.ad)
				}
			})
		}
	}
	probe(plain, p.plain, threshold)
	probe(variant, p.plain, threshold-variantMargin)
	for _, c := range p.crops {
		probe(plain, c, threshold-variantMargin)
	}
	return out
}

// TestNearPhotosMatchesBruteForce stores random photos, many of them near
// copies of one another (a few bits flipped, crops a few bits off their
// photo), and checks each look-up against a scan of every stored hash
// (the same set of ads) and against the look-up it replaced (the same
// ads in the same order), for several thresholds.
// Each table set is tried in the narrow layout, the wide one, and built
// narrow then laid out wide half way (as a table that grows past a
// million hashes is): every layout finds the same ads in the same order.
func TestNearPhotosMatchesBruteForce(t *testing.T) {
	for _, threshold := range []int{2, 5, 8, 10, 12} {
		for _, layout := range []string{"narrow", "wide", "relayout"} {
			t.Run(fmt.Sprint("threshold=", threshold, "/", layout), func(t *testing.T) {
				nearPhotosMatchesBruteForce(t, threshold, layout)
			})
		}
	}
}

func nearPhotosMatchesBruteForce(t *testing.T, threshold int, layout string) {
	{
		{
			r := rand.New(rand.NewPCG(uint64(threshold), 7))
			flip := func(h uint64, n int) uint64 {
				for range n {
					h ^= 1 << r.IntN(64)
				}
				return h
			}
			var bases []uint64
			newPhoto := func() photo {
				var p photo
				if len(bases) > 0 && r.IntN(3) > 0 {
					// Near a stored photo, or sharing one of its bands.
					base := bases[r.IntN(len(bases))]
					if r.IntN(4) == 0 {
						p.plain = base&0xffff<<(16*r.IntN(4)) | r.Uint64()&^(0xffff<<(16*r.IntN(4)))
					} else {
						p.plain = flip(base, r.IntN(threshold+4))
					}
				} else {
					p.plain = r.Uint64()
				}
				bases = append(bases, p.plain)
				for range r.IntN(10) {
					p.crops = append(p.crops, flip(p.plain, r.IntN(threshold+2)))
				}
				return p
			}
			l := NewLinker(threshold, 25)
			// The wide tables' directories are tens of megabytes outside
			// the heap: returned now rather than when a cleanup runs.
			t.Cleanup(func() {
				l.plainBands.release()
				l.variantBands.release()
			})
			if layout == "wide" {
				l.plainBands.layout, l.variantBands.layout = &wideLayout, &wideLayout
			}
			var oldPlain, oldVariant [bands]map[uint32][]bandEntry
			for b := range bands {
				oldPlain[b], oldVariant[b] = map[uint32][]bandEntry{}, map[uint32][]bandEntry{}
			}
			type stored struct {
				ad int32
				p  photo
			}
			var all []stored
			for i := range 3000 {
				ad := int32(i)
				if i > 0 && r.IntN(5) == 0 {
					ad = int32(r.IntN(i)) // an ad with several photos
				}
				p := newPhoto()
				if i == 1500 && layout == "relayout" {
					l.plainBands.relayout(&wideLayout)
					l.variantBands.relayout(&wideLayout)
				}
				if i%10 == 0 {
					got := l.nearPhotos(p)
					want := oldNearPhotos(&oldPlain, &oldVariant, threshold, p)
					if !slices.Equal(got, want) {
						t.Fatalf("photo %d: nearPhotos = %v, the old look-up %v", i, got, want)
					}
					brute := map[int32]bool{}
					for _, s := range all {
						near := hamming(p.plain, s.p.plain) <= threshold
						for _, c := range s.p.crops {
							near = near || hamming(p.plain, c) <= threshold-variantMargin
						}
						for _, c := range p.crops {
							near = near || hamming(c, s.p.plain) <= threshold-variantMargin
						}
						if near {
							brute[s.ad] = true
						}
					}
					gotSet := map[int32]bool{}
					for _, o := range got {
						gotSet[o] = true
					}
					if !maps.Equal(gotSet, brute) {
						t.Fatalf("photo %d: nearPhotos found %d ads, a scan of every hash %d", i, len(gotSet), len(brute))
					}
				}
				l.plainBands.add(p.plain, ad)
				for b := range bands {
					oldPlain[b][band(p.plain, b)] = append(oldPlain[b][band(p.plain, b)], bandEntry{hash: p.plain, ad: ad})
				}
				for _, c := range p.crops {
					l.variantBands.add(c, ad)
					for b := range bands {
						oldVariant[b][band(c, b)] = append(oldVariant[b][band(c, b)], bandEntry{hash: c, ad: ad})
					}
				}
				all = append(all, stored{ad, p})
				if i%500 == 250 {
					// Merge every table now and then: left to themselves
					// these small tables would merge only past 16,384
					// recent slots, so the look-ups above would never
					// read merged slots and recent ones together.
					for _, pb := range []*photoBands{&l.plainBands, &l.variantBands} {
						for b := range pb.tables {
							if pb.tables[b].dir != nil {
								pb.tables[b].merge()
							}
						}
					}
				}
			}
		}
	}
}

func TestBandRadii(t *testing.T) {
	for _, tc := range []struct {
		bound int
		want  [bands]int
	}{
		{0, [bands]int{0, 0, 0, 0}},
		{3, [bands]int{0, 0, 0, 0}},
		{4, [bands]int{1, 0, 0, 0}},
		{6, [bands]int{1, 1, 1, 0}},
		{8, [bands]int{2, 1, 1, 1}},
		{12, [bands]int{3, 2, 2, 2}},
	} {
		if got := narrowLayout.radii(tc.bound); got != tc.want {
			t.Errorf("narrowLayout.radii(%d) = %v, want %v", tc.bound, got, tc.want)
		}
	}
}

// The layouts' bands cut the 64 bits between them, a slot's key holds
// none of its own band's bits, and the radii find every hash within bound
// (the pigeonhole: the radii plus one each add up to more than bound).
func TestBandLayouts(t *testing.T) {
	for _, lo := range []*bandLayout{&narrowLayout, &wideLayout} {
		var covered uint64
		for b := range lo.n {
			mask := uint64(1)<<lo.width[b] - 1
			mask <<= lo.shift[b]
			if covered&mask != 0 {
				t.Errorf("%d bands: band %d overlaps another", lo.n, b)
			}
			covered |= mask
			h := uint64(0x0123456789abcdef)
			if lo.slotKey(h, b) != lo.slotKey(h^mask, b) {
				t.Errorf("%d bands: band %d's slot key holds its own bits", lo.n, b)
			}
			if lo.band(h^mask, b) != lo.band(h, b)^uint32(mask>>lo.shift[b]) {
				t.Errorf("%d bands: band %d is not bits %d to %d", lo.n, b, lo.shift[b], lo.shift[b]+lo.width[b])
			}
		}
		if covered != ^uint64(0) {
			t.Errorf("%d bands cover %x, not every bit", lo.n, covered)
		}
		for bound := range 13 {
			sum, radii := 0, lo.radii(bound)
			for _, r := range radii[:lo.n] {
				sum += r + 1
			}
			if sum <= bound {
				t.Errorf("%d bands, bound %d: radii %v miss hashes", lo.n, bound, radii)
			}
		}
	}
}

// A table changes layout when the wide one is cheaper for its look-ups:
// the crop variants at a million ads (12 million hashes, looked up within
// 6 bits), not the plain hashes beside them (1.3 million, within 8 and
// 6 bits nine times) nor a small one.
func TestCheapestLayout(t *testing.T) {
	for _, tc := range []struct {
		name   string
		n      int
		bounds []lookupLoad
		want   *bandLayout
	}{
		{"crop variants at 1M ads", 12_000_000, []lookupLoad{{6, 1}}, &wideLayout},
		{"crop variants at 100,000 ads", 1_200_000, []lookupLoad{{6, 1}}, &narrowLayout},
		{"plain hashes at 1M ads", 1_350_000, []lookupLoad{{8, 1}, {6, 9}}, &narrowLayout},
		{"plain hashes at 10M ads", 13_500_000, []lookupLoad{{8, 1}, {6, 9}}, &wideLayout},
		{"a small table", 10_000, []lookupLoad{{6, 1}}, &narrowLayout},
	} {
		p := photoBands{bounds: tc.bounds, hashes: column[uint64]{s: make([]uint64, tc.n)}}
		if got := p.cheapest(); got != tc.want {
			t.Errorf("%s: %d bands, want %d", tc.name, got.n, tc.want.n)
		}
	}
}
