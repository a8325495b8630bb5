package jpeg

import (
	"bytes"
	"image"
	stdjpeg "image/jpeg"
	"math/rand/v2"
	"testing"
)

// BenchmarkDecode: a 300x400 photo-like JPEG (quality 85) decoded by this
// package and by image/jpeg.
func BenchmarkDecode(b *testing.B) {
	r := rand.New(rand.NewPCG(9, 10))
	img := image.NewRGBA(image.Rect(0, 0, 300, 400))
	for y := range 400 {
		for x := range 300 {
			i := img.PixOffset(x, y)
			img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = uint8(x*255/300), uint8(y*255/400), uint8(r.IntN(64)+(x+y)%128), 255
		}
	}
	var buf bytes.Buffer
	if err := stdjpeg.Encode(&buf, img, &stdjpeg.Options{Quality: 85}); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	for _, tc := range []struct {
		name   string
		decode func() error
	}{
		{"adwatch", func() error { _, err := Decode(bytes.NewReader(data)); return err }},
		{"image-jpeg", func() error { _, err := stdjpeg.Decode(bytes.NewReader(data)); return err }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				if err := tc.decode(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
