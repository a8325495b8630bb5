package imagehash

import (
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"os"
	"testing"

	xdraw "golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/adwatch/adwatch/internal/sim"
)

// Threshold is the linking threshold of the shipped configuration.
const threshold = 8

func jpegOf(t testing.TB, img image.Image, q int) []byte {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// linkDistance is the smallest threshold at which Near links a and b.
func linkDistance(a, b Result) int {
	for th := 0; th <= 64; th++ {
		if Near(a.PHash, a.Crops, b.PHash, b.Crops, th) {
			return th
		}
	}
	return 64
}

func resize(img image.Image, f float64) image.Image {
	b := img.Bounds()
	dst := image.NewRGBA(image.Rect(0, 0, int(float64(b.Dx())*f), int(float64(b.Dy())*f)))
	xdraw.CatmullRom.Scale(dst, dst.Bounds(), img, b, draw.Over, nil)
	return dst
}

func crop(img image.Image, frac float64) image.Image {
	b := img.Bounds()
	dx, dy := int(float64(b.Dx())*frac), int(float64(b.Dy())*frac)
	r := image.Rect(b.Min.X+dx, b.Min.Y+dy, b.Max.X, b.Max.Y)
	dst := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	draw.Draw(dst, dst.Bounds(), img, r.Min, draw.Src)
	return dst
}

func cropSides(img image.Image, l, t, r, b float64) image.Image {
	bb := img.Bounds()
	rr := image.Rect(bb.Min.X+int(float64(bb.Dx())*l), bb.Min.Y+int(float64(bb.Dy())*t),
		bb.Max.X-int(float64(bb.Dx())*r), bb.Max.Y-int(float64(bb.Dy())*b))
	dst := image.NewRGBA(image.Rect(0, 0, rr.Dx(), rr.Dy()))
	draw.Draw(dst, dst.Bounds(), img, rr.Min, draw.Src)
	return dst
}

func watermark(img image.Image, text string) image.Image {
	b := img.Bounds()
	dst := image.NewRGBA(b)
	draw.Draw(dst, b, img, b.Min, draw.Src)
	d := &font.Drawer{Dst: dst, Src: image.NewUniform(color.White), Face: basicfont.Face7x13,
		Dot: fixed.P(b.Min.X+3, b.Max.Y-4)}
	d.DrawString(text)
	return dst
}

// photo is a larger rendering of a simulator photo, closer to a real ad
// photo's size.
func photo(id int) image.Image { return resize(sim.Picture(7, id), 4) }

func TestNearDuplicatesStayNear(t *testing.T) {
	transforms := []struct {
		name string
		f    func(image.Image) []byte
	}{
		{"jpeg q95", func(i image.Image) []byte { return jpegOf(t, i, 95) }},
		{"jpeg q60", func(i image.Image) []byte { return jpegOf(t, i, 60) }},
		{"resize 90%", func(i image.Image) []byte { return jpegOf(t, resize(i, 0.9), 85) }},
		{"resize 110%", func(i image.Image) []byte { return jpegOf(t, resize(i, 1.1), 85) }},
		{"crop 3% corner", func(i image.Image) []byte { return jpegOf(t, crop(i, 0.03), 85) }},
		{"crop 5% left", func(i image.Image) []byte { return jpegOf(t, cropSides(i, 0.05, 0, 0, 0), 85) }},
		{"crop 5% bottom", func(i image.Image) []byte { return jpegOf(t, cropSides(i, 0, 0, 0, 0.05), 85) }},
		{"crop 5% all round", func(i image.Image) []byte { return jpegOf(t, cropSides(i, 0.025, 0.025, 0.025, 0.025), 85) }},
		{"crop 3% bottom right", func(i image.Image) []byte { return jpegOf(t, cropSides(i, 0, 0, 0.03, 0.03), 85) }},
		{"watermark", func(i image.Image) []byte { return jpegOf(t, watermark(i, "@rosa.b"), 85) }},
		{"all of them", func(i image.Image) []byte { return jpegOf(t, watermark(crop(resize(i, 0.9), 0.03), "new!"), 70) }},
	}
	worst := map[string]int{} // smallest threshold at which each transform still links
	var originals []Result
	for id := range 40 {
		img := photo(id)
		orig, err := Hash(jpegOf(t, img, 90), 1<<24)
		if err != nil {
			t.Fatal(err)
		}
		originals = append(originals, orig)
		for _, tr := range transforms {
			got, err := Hash(tr.f(img), 1<<24)
			if err != nil {
				t.Fatal(err)
			}
			d := linkDistance(orig, got)
			worst[tr.name] = max(worst[tr.name], d)
			if !Near(orig.PHash, orig.Crops, got.PHash, got.Crops, threshold) {
				t.Errorf("photo %d, %s: %d bits from the original, threshold %d", id, tr.name, d, threshold)
			}
		}
	}
	closest := 64
	for i := range originals {
		for j := i + 1; j < len(originals); j++ {
			a, b := originals[i], originals[j]
			closest = min(closest, linkDistance(a, b))
			if Near(a.PHash, a.Crops, b.PHash, b.Crops, threshold) {
				t.Errorf("photos %d and %d are different but link", i, j)
			}
		}
	}
	t.Logf("worst distance per transform: %v; closest different photos: %d", worst, closest)

}

// TestWebPLinksToJPEG: the same photo posted as WebP (testdata/photo3.webp,
// made from photo(3) with cwebp -q 75) links to its JPEG, and not to
// another photo.
func TestWebPLinksToJPEG(t *testing.T) {
	data, err := os.ReadFile("testdata/photo3.webp")
	if err != nil {
		t.Fatal(err)
	}
	w, err := Hash(data, 1<<24)
	if err != nil || w.Format != "webp" {
		t.Fatalf("webp: %+v %v", w, err)
	}
	same, _ := Hash(jpegOf(t, photo(3), 90), 1<<24)
	other, _ := Hash(jpegOf(t, photo(4), 90), 1<<24)
	if d := linkDistance(w, same); d > 8 {
		t.Errorf("webp and jpeg of one photo link only at %d", d)
	}
	if d := linkDistance(w, other); d <= 8 {
		t.Errorf("webp links to another photo at %d", d)
	}
}
