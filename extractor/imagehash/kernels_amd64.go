package imagehash

import "golang.org/x/sys/cpu"

// useAVX2 picks the AVX2 kernels of the horizontal and vertical passes.
// They use packed multiplies and adds, never fused ones, in the scalar
// code's order, so each lane's result is the scalar result to the bit;
// TestKernelsMatchGeneric compares them. Tests turn it off to check the
// generic path.
var useAVX2 = cpu.X86.HasAVX2

// horizontal is the horizontal pass over the row in s.px into out, which
// holds workSize*3+1 values (see horizontalGeneric).
func (s *scratch) horizontal(out []float64) {
	if !useAVX2 {
		s.horizontalGeneric(out)
		return
	}
	k := s.hw.n
	starts := s.hw.start[:workSize]
	_ = s.hw4[workSize*k-1]
	_ = out[3*workSize]
	_ = s.px[4*(s.hw.maxStart+k)-1] // every tap within the row
	horizontalAVX2(&out[0], &s.px[0], &s.hw4[0], &s.hinv[0], &starts[0], k, workSize/4)
}

// sweep3 adds three rows' taps to acc (see sweep3Generic).
func sweep3(acc, r0, r1, r2 *[3 * workSize]float64, w0, w1, w2 float64, set bool) {
	switch {
	case !useAVX2:
		sweep3Generic(acc, r0, r1, r2, w0, w1, w2, set)
	case set:
		set3AVX2(&acc[0], &r0[0], &r1[0], &r2[0], w0, w1, w2, 3*workSize/4)
	default:
		add3AVX2(&acc[0], &r0[0], &r1[0], &r2[0], w0, w1, w2, 3*workSize/4)
	}
}

// sweep1 adds one row's tap to acc.
func sweep1(acc, r0 *[3 * workSize]float64, w0 float64) {
	if !useAVX2 {
		sweep1Generic(acc, r0, w0)
		return
	}
	add1AVX2(&acc[0], &r0[0], w0, 3*workSize/4)
}

// convert420Fast converts the first pairs of convert420's pixels, eight
// pairs at a time, and returns how many pairs it did.
func convert420Fast(px []float64, ys, cb, cr []uint8) int {
	groups := len(cb) / 8
	if !useAVX2 || groups == 0 {
		return 0
	}
	_, _, _ = px[64*groups-1], ys[16*groups-1], cr[8*groups-1]
	convert420AVX2(&px[0], &ys[0], &cb[0], &cr[0], groups)
	return 8 * groups
}

// convert420AVX2 converts 16*groups pixels of ys, each pair sharing the
// chroma of cb and cr, as convert420 does, into four lanes each at px
// (the fourth zero).
//
//go:noescape
func convert420AVX2(px *float64, ys, cb, cr *uint8, groups int)

// horizontalAVX2 computes 4*groups destination columns, four at a time:
// for column x = 4g+j, the sum over its k taps i of the pixel
// px[start[x]+i] (four lanes) times weight4[(g*k+i)*4+j], from zero in
// tap order, times inv[x], stored as four lanes at out[3x].
//
//go:noescape
func horizontalAVX2(out, px, weight4, inv *float64, start *int, k, groups int)

// set3AVX2 sets acc[j] = r0[j]*w0 + r1[j]*w1 + r2[j]*w2 (left to right)
// for j < 4*groups.
//
//go:noescape
func set3AVX2(acc, r0, r1, r2 *float64, w0, w1, w2 float64, groups int)

// add3AVX2 sets acc[j] = acc[j] + r0[j]*w0 + r1[j]*w1 + r2[j]*w2 (left to
// right) for j < 4*groups.
//
//go:noescape
func add3AVX2(acc, r0, r1, r2 *float64, w0, w1, w2 float64, groups int)

// add1AVX2 sets acc[j] = acc[j] + r0[j]*w0 for j < 4*groups.
//
//go:noescape
func add1AVX2(acc, r0 *float64, w0 float64, groups int)

// dctRows takes two rows' DCT sums (see dctRowsGeneric).
func dctRows(out *[2][8]float64, across *[workSize][dctSize]float64, a, b sample) {
	if !useAVX2 {
		dctRowsGeneric(out, across, a, b)
		return
	}
	rows := [4]*[dctSize]float64{&across[a.i], &across[a.i1], &across[b.i], &across[b.i1]}
	w := [4]float64{1 - a.w, a.w, 1 - b.w, b.w}
	dctRowsAVX2(out, &rows, &w, &cosColumns)
}

// dctRowsAVX2 is dctRowsGeneric on rows (top and bottom of the first row,
// then of the second) and w (their weights in the same order): the eight
// sums of a row in two vectors, the two rows beside each other so that
// their additions overlap.
//
//go:noescape
func dctRowsAVX2(out *[2][8]float64, rows *[4]*[dctSize]float64, w *[4]float64, cos *[dctSize][8]float64)
