package alerts

import (
	"bytes"
	"image"
	"image/draw"
	"image/jpeg"
	"strings"
	"testing"

	"github.com/adwatch/adwatch/extractor/imagehash"
	"github.com/adwatch/adwatch/internal/record"
	"github.com/adwatch/adwatch/internal/sim"
)

func jpegBytes(t *testing.T, img image.Image, q int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// cropped cuts frac of the width off the left side.
func cropped(img image.Image, frac float64) image.Image {
	b := img.Bounds()
	r := image.Rect(b.Min.X+int(frac*float64(b.Dx())), b.Min.Y, b.Max.X, b.Max.Y)
	out := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	draw.Draw(out, out.Bounds(), img, r.Min, draw.Src)
	return out
}

// photosOf is what the indexer puts in a profile update for one image.
func photosOf(t *testing.T, data []byte) []record.Photo {
	t.Helper()
	r, err := imagehash.Hash(data, 1<<24)
	if err != nil {
		t.Fatal(err)
	}
	p := record.Photo{PHash: imagehash.Hex(r.PHash)}
	for _, c := range r.Crops {
		p.Crops = append(p.Crops, imagehash.Hex(c))
	}
	return []record.Photo{p}
}

func TestWatchHits(t *testing.T) {
	watched := sim.Picture(3, 11)
	photo, err := WatchPhoto(jpegBytes(t, watched, 90), 1<<24, "det. lee", "")
	if err != nil {
		t.Fatal(err)
	}
	photo, err = NormalizeWatch(photo, "US")
	if err != nil {
		t.Fatal(err)
	}
	term, err := NormalizeWatch(WatchEntry{Kind: WatchTerm, Value: "  Rosa   Bella ", By: "det. lee"}, "US")
	if err != nil || term.Value != "rosa bella" {
		t.Fatalf("term %+v %v", term, err)
	}
	s := newState(30, nil)
	s.watch = []WatchEntry{photo, term}
	for _, tc := range []struct {
		name string
		u    record.ProfileUpdate
		want int
	}{
		{"the same photo re-encoded", record.ProfileUpdate{Photos: photosOf(t, jpegBytes(t, watched, 60))}, 1},
		{"the same photo cropped 4%", record.ProfileUpdate{Photos: photosOf(t, jpegBytes(t, cropped(watched, 0.04), 75))}, 1},
		{"the same file", record.ProfileUpdate{Images: []string{photo.Value}}, 1},
		{"another photo", record.ProfileUpdate{Photos: photosOf(t, jpegBytes(t, sim.Picture(3, 12), 90))}, 0},
		{"the term in the body", record.ProfileUpdate{Text: "new in town, ask for rosa bella tonight"}, 1},
		{"the term at the end", record.ProfileUpdate{Text: "ask for rosa bella"}, 1},
		{"the term inside a longer word", record.ProfileUpdate{Text: "ask for rosa bellamy"}, 0},
		{"the words apart", record.ProfileUpdate{Text: "rosa and bella"}, 0},
		{"the term in the title only", record.ProfileUpdate{Title: "Rosa Bella is back"}, 1},
	} {
		if got := len(s.watchHits(&tc.u)); got != tc.want {
			t.Errorf("%s: %d hits, want %d", tc.name, got, tc.want)
		}
	}
}

func TestNormalizeWatchImage(t *testing.T) {
	for _, tc := range []struct {
		value string
		ok    bool
	}{
		{"F0F0F0F0F0F0F0F0", true}, // a perceptual hash
		{"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", true},
		{"f0f0", false},
		{"not a hash at all, not at all, not at all, not at all, not at all", false},
	} {
		e, err := NormalizeWatch(WatchEntry{Kind: WatchImage, Value: tc.value, By: "x"}, "US")
		if (err == nil) != tc.ok {
			t.Errorf("%q: error %v, want ok=%v", tc.value, err, tc.ok)
		}
		if err == nil && len(tc.value) == 16 && e.PHash != "f0f0f0f0f0f0f0f0" {
			t.Errorf("%q: perceptual hash %q", tc.value, e.PHash)
		}
	}
}

// FuzzContainsTerm: any text and term, valid UTF-8 or not; a hit is always
// a real occurrence.
func FuzzContainsTerm(f *testing.F) {
	f.Add("ask for rosa bella", "rosa bella")
	f.Add("rosabella", "rosa")
	f.Add("\xff\xferosa\xff", "rosa")
	f.Fuzz(func(t *testing.T, text, term string) {
		if containsTerm(text, term) && !strings.Contains(text, term) {
			t.Fatalf("%q found in %q", term, text)
		}
	})
}
