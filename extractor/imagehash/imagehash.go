// Package imagehash fingerprints ad images: the SHA-256 of the bytes finds
// exact copies and a 64-bit perceptual hash (pHash) finds the same photo
// re-encoded, resized, cropped a little or watermarked.
//
// Sizes are checked with image.DecodeConfig before anything is decoded, so a
// decompression bomb is refused at once.
//
// The hashes are stored and compared with hashes taken earlier, so their
// bits must not depend on the machine or the build: every product of the
// hash's arithmetic is rounded on its own (float64(x*y)), never fused into
// a multiply-add, whatever GOAMD64 or GOARCH (make test runs the hashing
// tests with GOAMD64=v3, which fuses what it may). The AVX2 kernels give the
// generic code's bits. Images that are not JPEG or gray are scaled by
// x/image/draw, whose own sums a fusing build may round otherwise.
package imagehash

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	_ "image/gif"  // GIF decoder
	_ "image/jpeg" // JPEG decoder
	_ "image/png"  // PNG decoder
	"math"
	"math/bits"
	"strconv"

	"github.com/corona10/goimagehash/etcs"
	_ "golang.org/x/image/webp" // WebP decoder

	"github.com/adwatch/adwatch/extractor/imagehash/internal/jpeg"
	"github.com/adwatch/adwatch/internal/record"
)

// ErrTooLarge is returned for an image whose pixel count exceeds the limit.
var ErrTooLarge = errors.New("image too large")

// Result is an image's fingerprint.
type Result struct {
	SHA256 string
	// PHash is the perceptual hash of the whole image.
	PHash uint64
	// Crops are the perceptual hashes of the image cropped by CropFraction
	// from each side, each corner and all round. A copy of the image
	// cropped by up to 5% is near one of them, where the plain hashes of
	// the two can be far apart.
	Crops  []uint64
	Width  int
	Height int
	Format string
}

// CropFraction is how much the crop variants cut off.
const CropFraction = 0.035

// workSize is the side of the downscaled copy that is hashed.
const workSize = 128

// Hash fingerprints data, refusing images over maxPixels before decoding.
func Hash(data []byte, maxPixels int) (Result, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return Result{}, fmt.Errorf("reading image header: %w", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return Result{}, fmt.Errorf("image has no pixels (%dx%d)", cfg.Width, cfg.Height)
	}
	if int64(cfg.Width)*int64(cfg.Height) > int64(maxPixels) {
		return Result{}, fmt.Errorf("%w: %dx%d %s exceeds %d pixels", ErrTooLarge, cfg.Width, cfg.Height, format, maxPixels)
	}
	var img image.Image
	if format == "jpeg" {
		// image/jpeg's decoder, its inverse DCT in AVX2: the same pixels.
		img, err = jpeg.Decode(bytes.NewReader(data))
	} else {
		img, _, err = image.Decode(bytes.NewReader(data))
	}
	if err != nil {
		return Result{}, fmt.Errorf("decoding %s image: %w", format, err)
	}
	// Hash a small gray copy: every variant then costs little.
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	sc.downscale(img, &sc.gray)
	res := Result{SHA256: record.SHA256Hex(data), Width: cfg.Width, Height: cfg.Height, Format: format}
	hashes := sc.phashes(&sc.gray, &regions)
	res.PHash = hashes[0]
	res.Crops = append([]uint64(nil), hashes[1:]...)
	return res, nil
}

// region is the part [x0,x1)x[y0,y1) of the gray copy.
type region struct{ x0, y0, x1, y1 int }

// regions are the parts of the gray copy Hash takes the pHash of: the
// whole, then CropFraction cut off each side, each corner and half of it
// all round.
var regions = func() (r [10]region) {
	v := int(math.Round(CropFraction * workSize))
	h := v / 2
	r[0] = region{0, 0, workSize, workSize}
	for i, c := range [9][4]int{{v, 0, 0, 0}, {0, v, 0, 0}, {0, 0, v, 0}, {0, 0, 0, v}, {v, v, 0, 0}, {0, v, v, 0}, {0, 0, v, v}, {v, 0, 0, v}, {h, h, h, h}} {
		r[i+1] = region{c[0], c[1], workSize - c[2], workSize - c[3]}
	}
	return r
}()

// phashes computes the pHash of each region of gray, as phash would one
// by one. A region's samples are bilinear, across then down; the across
// step of every row of the copy is shared by the regions with the same
// horizontal extent (the ten regions have four), the same products and
// sums as phash takes per region.
func (s *scratch) phashes(gray *[workSize * workSize]float64, rs *[10]region) (out [10]uint64) {
	var done [10]bool
	for i, r := range rs {
		if done[i] {
			continue
		}
		xs := samples(r.x0, r.x1)
		for y := range workSize {
			src := gray[y*workSize : y*workSize+workSize]
			row := &s.across[y]
			for x, sx := range xs {
				row[x] = float64(src[sx.i]*(1-sx.w)) + float64(src[sx.i1]*sx.w)
			}
		}
		for j := i; j < len(rs); j++ {
			if !done[j] && rs[j].x0 == r.x0 && rs[j].x1 == r.x1 {
				out[j] = dctHash(&s.across, rs[j].y0, rs[j].y1)
				done[j] = true
			}
		}
	}
	return out
}

// dctHash finishes the pHash of a region whose rows of the gray copy have
// been sampled across into across: it samples [y0,y1) down, and takes one
// bit per coefficient of the lowest 8x8 DCT frequencies, set when the
// coefficient is above their median.
func dctHash(across *[workSize][dctSize]float64, y0, y1 int) uint64 {
	// Only the lowest 8x8 frequencies are needed: a separable DCT-II of
	// those, rows then columns. The eight sums of a row are taken in one
	// pass, each in the order of x, as each sample is made.
	var rows [dctSize][8]float64
	ss := samples(y0, y1)
	for y := 0; y < dctSize; y += 2 {
		dctRows((*[2][8]float64)(rows[y:y+2]), across, ss[y], ss[y+1])
	}
	var low [64]float64
	for v := 0; v < 8; v++ {
		for u := 0; u < 8; u++ {
			var sum float64
			for y := 0; y < dctSize; y++ {
				sum += float64(rows[y][u] * cosTable[v][y])
			}
			low[v*8+u] = sum
		}
	}
	median := etcs.MedianOfPixelsFast64(low[:])
	var h uint64
	for i, c := range low {
		if c > median {
			h |= 1 << uint(63-i)
		}
	}
	return h
}

// dctRowsGeneric samples down the two rows a and b of the rows sampled
// across (v = top[x]*(1-w) + bot[x]*w), and takes each one's eight lowest
// DCT-II sums, each in the order of x, into out.
func dctRowsGeneric(out *[2][8]float64, across *[workSize][dctSize]float64, a, b sample) {
	for r, sy := range [2]sample{a, b} {
		top, bot := &across[sy.i], &across[sy.i1]
		wt, wb := 1-sy.w, sy.w
		var s0, s1, s2, s3, s4, s5, s6, s7 float64
		for x := range dctSize {
			v := float64(top[x]*wt) + float64(bot[x]*wb)
			c := &cosColumns[x]
			s0 += float64(v * c[0])
			s1 += float64(v * c[1])
			s2 += float64(v * c[2])
			s3 += float64(v * c[3])
			s4 += float64(v * c[4])
			s5 += float64(v * c[5])
			s6 += float64(v * c[6])
			s7 += float64(v * c[7])
		}
		out[r] = [8]float64{s0, s1, s2, s3, s4, s5, s6, s7}
	}
}

// sample is where one of the dctSize samples of a region falls on the
// gray copy: between pixels i and i1, w of the way.
type sample struct {
	i, i1 int
	w     float64
}

// samples places dctSize samples bilinearly over [a0,a1).
func samples(a0, a1 int) (out [dctSize]sample) {
	step := float64(a1-a0) / dctSize
	for k := range out {
		f := float64(a0) + float64((float64(k)+0.5)*step) - 0.5
		i := max(int(math.Floor(f)), a0)
		out[k] = sample{i: i, i1: min(i+1, a1-1), w: min(max(f-float64(i), 0), 1)}
	}
	return out
}

// dctSize is the side of the sampled image whose DCT is taken. 64 (as in
// goimagehash) keeps crops of 5% within the threshold, where 32 (the
// original pHash) does not.
const dctSize = 64

// cosTable[k][n] = cos(pi/dctSize * (n + 1/2) * k), the DCT-II basis.
var cosTable = func() (t [8][dctSize]float64) {
	for k := range t {
		for n := range t[k] {
			t[k][n] = math.Cos(math.Pi / dctSize * (float64(n) + 0.5) * float64(k))
		}
	}
	return t
}()

// cosColumns is cosTable transposed: cosColumns[n][k] = cosTable[k][n].
var cosColumns = func() (t [dctSize][8]float64) {
	for k := range cosTable {
		for n := range cosTable[k] {
			t[n][k] = cosTable[k][n]
		}
	}
	return t
}()

// Near reports whether two images are the same photo for linking: their
// plain hashes within threshold, or, for a cropped copy, one's plain hash
// within threshold-VariantMargin of the other's crop variants. Variant
// matches are held to the tighter bound because every image offers nine
// of them, nine more chances for two different photos to meet.
func Near(aPlain uint64, aCrops []uint64, bPlain uint64, bCrops []uint64, threshold int) bool {
	if Distance(aPlain, bPlain) <= threshold {
		return true
	}
	limit := threshold - VariantMargin
	for _, c := range bCrops {
		if Distance(aPlain, c) <= limit {
			return true
		}
	}
	for _, c := range aCrops {
		if Distance(c, bPlain) <= limit {
			return true
		}
	}
	return false
}

// VariantMargin tightens the threshold for matches through crop variants.
const VariantMargin = 2

// Hex formats a perceptual hash as 16 hex digits.
func Hex(h uint64) string { return fmt.Sprintf("%016x", h) }

// ParseHex reads a hash written by Hex.
func ParseHex(s string) (uint64, error) {
	h, err := strconv.ParseUint(s, 16, 64)
	if err != nil {
		return 0, fmt.Errorf("parsing perceptual hash %q: %w", s, err)
	}
	return h, nil
}

// Distance is the Hamming distance between two perceptual hashes.
func Distance(a, b uint64) int { return bits.OnesCount64(a ^ b) }
