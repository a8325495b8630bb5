package indexer

import (
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
