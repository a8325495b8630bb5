//go:build !amd64

package imagehash

// useAVX2 is false off amd64: the generic passes run.
var useAVX2 = false

// horizontal is the horizontal pass over the row in s.px into out.
func (s *scratch) horizontal(out []float64) { s.horizontalGeneric(out) }

// sweep3 adds three rows' taps to acc (see sweep3Generic).
func sweep3(acc, r0, r1, r2 *[3 * workSize]float64, w0, w1, w2 float64, set bool) {
	sweep3Generic(acc, r0, r1, r2, w0, w1, w2, set)
}

// sweep1 adds one row's tap to acc.
func sweep1(acc, r0 *[3 * workSize]float64, w0 float64) { sweep1Generic(acc, r0, w0) }

// convert420Fast converts none of convert420's pixels: the generic loop
// does them all.
func convert420Fast(px []float64, ys, cb, cr []uint8) int { return 0 }

// dctRows takes two rows' DCT sums (see dctRowsGeneric).
func dctRows(out *[2][8]float64, across *[workSize][dctSize]float64, a, b sample) {
	dctRowsGeneric(out, across, a, b)
}
