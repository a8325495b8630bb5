package imagehash

import (
	"bytes"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"math/rand/v2"
	"testing"

	xdraw "golang.org/x/image/draw"
)

// viaXDraw is the gray copy as Hash computed it before downscale: scaled
// with x/image/draw into RGBA, then weighed.
func viaXDraw(img image.Image) *[workSize * workSize]float64 {
	small := image.NewRGBA(image.Rect(0, 0, workSize, workSize))
	xdraw.BiLinear.Scale(small, small.Bounds(), img, img.Bounds(), draw.Src, nil)
	var gray [workSize * workSize]float64
	for i := range gray {
		p := small.Pix[i*4 : i*4+3]
		gray[i] = 0.299*float64(p[0]) + 0.587*float64(p[1]) + 0.114*float64(p[2])
	}
	return &gray
}

// fusesMultiplyAdd returns x*y + z as this build compiles it: 0 for the
// arguments above without fusion (x*y rounds to 1), -2^-60 with it.
//
//go:noinline
func fusesMultiplyAdd(x, y, z float64) float64 { return x*y + z }

func randomYCbCr(r *rand.Rand, rect image.Rectangle, ratio image.YCbCrSubsampleRatio) *image.YCbCr {
	img := image.NewYCbCr(rect, ratio)
	for _, p := range [][]byte{img.Y, img.Cb, img.Cr} {
		for i := range p {
			p[i] = byte(r.IntN(256))
		}
	}
	return img
}

// TestDownscaleMatchesXDraw: the fast path gives the very same gray copy,
// to the bit, as x/image/draw, for every JPEG layout, odd sizes and odd
// origins, up- and downscaling; so the pHash of every image is unchanged.
func TestDownscaleMatchesXDraw(t *testing.T) {
	if fusesMultiplyAdd(1+0x1p-30, 1-0x1p-30, -1) != 0 {
		// x/image/draw's own sums change when the compiler fuses them
		// (GOAMD64=v3, arm64); downscale's do not, and TestHashesUnchanged
		// holds them to the bits taken without fusion.
		t.Skip("this build fuses multiply-adds: x/image/draw is no reference here")
	}
	eachKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		var images []struct {
			name string
			img  image.Image
		}
		add := func(name string, img image.Image) {
			images = append(images, struct {
				name string
				img  image.Image
			}{name, img})
		}
		for _, ratio := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422,
			image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio440} {
			add(ratio.String()+" 300x400", randomYCbCr(r, image.Rect(0, 0, 300, 400), ratio))
			add(ratio.String()+" 77x51", randomYCbCr(r, image.Rect(0, 0, 77, 51), ratio))
			big := randomYCbCr(r, image.Rect(0, 0, 211, 333), ratio)
			add(ratio.String()+" sub-image at odd origin", big.SubImage(image.Rect(3, 5, 200, 301)))
		}
		ratios := []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422,
			image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio440}
		for range 24 { // random sizes from 1 pixel to twice the work size, odd and even origins
			x0, y0 := r.IntN(4), r.IntN(4)
			rect := image.Rect(x0, y0, x0+1+r.IntN(2*workSize), y0+1+r.IntN(2*workSize))
			ratio := ratios[r.IntN(len(ratios))]
			add(fmt.Sprintf("%v %v", ratio, rect), randomYCbCr(r, rect, ratio))
		}
		gray := image.NewGray(image.Rect(0, 0, 257, 129))
		for i := range gray.Pix {
			gray.Pix[i] = byte(r.IntN(256))
		}
		add("gray", gray)
		add("gray sub-image", gray.SubImage(image.Rect(1, 1, 250, 100)))
		for id := range 4 {
			var buf bytes.Buffer
			if err := jpeg.Encode(&buf, photo(id), &jpeg.Options{Quality: 85}); err != nil {
				t.Fatal(err)
			}
			img, err := jpeg.Decode(&buf)
			if err != nil {
				t.Fatal(err)
			}
			add("jpeg photo", img)
		}
		add("rgba (x/image/draw itself)", photo(9))
		for _, tc := range images {
			want := viaXDraw(tc.img)
			var got [workSize * workSize]float64
			downscale(tc.img, &got)
			if got != *want {
				diff := 0
				for i := range got {
					if got[i] != want[i] {
						diff++
					}
				}
				t.Errorf("%s (%T): %d of %d gray values differ from x/image/draw", tc.name, tc.img, diff, len(got))
			}
		}
	})
}
