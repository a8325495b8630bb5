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
	_ "image/gif"  // GIF decoder
	_ "image/jpeg" // JPEG decoder
	_ "image/png"  // PNG decoder
	"math/bits"
	"strconv"

	"github.com/corona10/goimagehash"
	_ "golang.org/x/image/webp" // WebP decoder

	"github.com/adwatch/adwatch/internal/ad"
)

// ErrTooLarge is returned for an image whose pixel count exceeds the limit.
var ErrTooLarge = errors.New("image too large")

// Result is an image's fingerprint.
type Result struct {
	SHA256 string
	PHash  uint64
	Width  int
	Height int
	Format string
}

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
	ph, err := goimagehash.PerceptionHash(img)
	if err != nil {
		return Result{}, fmt.Errorf("hashing image: %w", err)
	}
	return Result{SHA256: ad.SHA256Hex(data), PHash: ph.GetHash(), Width: cfg.Width, Height: cfg.Height, Format: format}, nil
}

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
