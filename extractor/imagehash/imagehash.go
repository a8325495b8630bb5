// Package imagehash fingerprints ad images: the SHA-256 of the bytes finds
// exact copies and a 64-bit perceptual hash (pHash) finds the same photo
// re-encoded, resized, cropped a little or watermarked.
//
// Sizes are checked with image.DecodeConfig before anything is decoded, so a
// decompression bomb is refused at once.
package imagehash

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/draw"
	_ "image/gif"  // GIF decoder
	_ "image/jpeg" // JPEG decoder
	_ "image/png"  // PNG decoder
	"math"
	"math/bits"
	"strconv"

	"github.com/corona10/goimagehash/etcs"
	xdraw "golang.org/x/image/draw"
	_ "golang.org/x/image/webp" // WebP decoder

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
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return Result{}, fmt.Errorf("decoding %s image: %w", format, err)
	}
	// Hash a small gray copy: every variant then costs little.
	small := image.NewRGBA(image.Rect(0, 0, workSize, workSize))
	xdraw.BiLinear.Scale(small, small.Bounds(), img, img.Bounds(), draw.Src, nil)
	var gray [workSize * workSize]float64
	for i := range gray {
		p := small.Pix[i*4 : i*4+3]
		gray[i] = 0.299*float64(p[0]) + 0.587*float64(p[1]) + 0.114*float64(p[2])
	}
	res := Result{SHA256: record.SHA256Hex(data), Width: cfg.Width, Height: cfg.Height, Format: format}
	res.PHash = phash(&gray, 0, 0, workSize, workSize)
	v := int(math.Round(CropFraction * workSize))
	h := v / 2
	for _, c := range [][4]int{{v, 0, 0, 0}, {0, v, 0, 0}, {0, 0, v, 0}, {0, 0, 0, v}, {v, v, 0, 0}, {0, v, v, 0}, {0, 0, v, v}, {v, 0, 0, v}, {h, h, h, h}} {
		res.Crops = append(res.Crops, phash(&gray, c[0], c[1], workSize-c[2], workSize-c[3]))
	}
	return res, nil
}

// phash is the DCT perceptual hash of the region [x0,x1)x[y0,y1) of a gray
// image: the region sampled bilinearly to dctSize x dctSize, and one bit
// per coefficient of its lowest 8x8 DCT frequencies, set when the
// coefficient is above their median.
func phash(gray *[workSize * workSize]float64, x0, y0, x1, y1 int) uint64 {
	var pixels [dctSize * dctSize]float64
	sx := float64(x1-x0) / dctSize
	sy := float64(y1-y0) / dctSize
	for y := 0; y < dctSize; y++ {
		fy := float64(y0) + (float64(y)+0.5)*sy - 0.5
		iy := max(int(math.Floor(fy)), y0)
		iy1 := min(iy+1, y1-1)
		wy := min(max(fy-float64(iy), 0), 1)
		for x := 0; x < dctSize; x++ {
			fx := float64(x0) + (float64(x)+0.5)*sx - 0.5
			ix := max(int(math.Floor(fx)), x0)
			ix1 := min(ix+1, x1-1)
			wx := min(max(fx-float64(ix), 0), 1)
			top := gray[iy*workSize+ix]*(1-wx) + gray[iy*workSize+ix1]*wx
			bot := gray[iy1*workSize+ix]*(1-wx) + gray[iy1*workSize+ix1]*wx
			pixels[y*dctSize+x] = top*(1-wy) + bot*wy
		}
	}
	// Only the lowest 8x8 frequencies are needed: a separable DCT-II of
	// those, rows then columns.
	var rows [dctSize][8]float64
	for y := 0; y < dctSize; y++ {
		row := pixels[y*dctSize : y*dctSize+dctSize]
		for u := 0; u < 8; u++ {
			var sum float64
			for x, v := range row {
				sum += v * cosTable[u][x]
			}
			rows[y][u] = sum
		}
	}
	var low [64]float64
	for v := 0; v < 8; v++ {
		for u := 0; u < 8; u++ {
			var sum float64
			for y := 0; y < dctSize; y++ {
				sum += rows[y][u] * cosTable[v][y]
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
