package jpeg

import "golang.org/x/sys/cpu"

// useAVX2 picks the AVX2 inverse DCT and level shift (reconstructBlock):
// the standard library's integer operations, eight rows or columns at a
// time, so the pixels are the same to the bit.
var useAVX2 = cpu.X86.HasAVX2

// idctConsts are the constants of idct, as idctAVX2 reads them: for each
// rotation (dctBox) kcos, ksin-kcos and kcos+ksin, then the scales and the
// roundings.
var idctConsts = func() (k [16]int32) {
	box := func(i int, kcos, ksin int32) {
		k[i], k[i+1], k[i+2] = kcos, ksin-kcos, kcos+ksin
	}
	box(0, c(sqrt2inv_cos6, 18), -c(sqrt2inv_sin6, 18)) // rows
	box(3, c(cos3, 12), -c(sin3, 12))                   // rows and columns
	box(6, c(cos1, 12), -c(sin1, 12))                   // rows and columns
	box(9, c(sqrt2inv_cos6, 12), -c(sqrt2inv_sin6, 12)) // columns
	k[12], k[13] = c(sqrt2inv, 8), c(sqrt2inv, 14)
	k[14], k[15] = 1<<19, 128
	return k
}()

// reconstructFast dequantizes b (in natural order, with qt, the
// quantization table in natural order) and writes its inverse DCT,
// level-shifted and clipped, into the 8x8 pixels of dst with stride; it
// reports false, doing nothing, without AVX2.
func reconstructFast(b, qt *block, dst []byte, stride int) bool {
	if !useAVX2 {
		return false
	}
	_ = dst[7*stride+7]
	idctAVX2(b, qt, &dst[0], stride, &idctConsts)
	return true
}

// idctAVX2 is the dequantization of b by qt (both in natural order),
// idct, then the level shift by 128 and the clip to [0, 255] into dst's 8
// rows of stride bytes.
//
//go:noescape
func idctAVX2(b, qt *block, dst *byte, stride int, k *[16]int32)
