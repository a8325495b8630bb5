package jpeg

import (
	"bytes"
	"image"
	stdjpeg "image/jpeg"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// samples are the standard library's test JPEGs (every subsampling,
// progressive, restart markers, RGB, CMYK, gray, truncated) and JPEGs the
// standard encoder writes from noise and gradients at several qualities.
func samples(t testing.TB) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	files, err := filepath.Glob("testdata/*.jpeg")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test JPEGs: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = b
	}
	r := rand.New(rand.NewPCG(7, 8))
	for i, size := range []image.Point{{1, 1}, {7, 9}, {16, 16}, {33, 17}, {300, 400}, {257, 131}} {
		img := image.NewRGBA(image.Rectangle{Max: size})
		for j := range img.Pix {
			switch i % 2 {
			case 0: // noise, saturating the level shift often
				img.Pix[j] = uint8(r.IntN(256))
			default: // smooth
				img.Pix[j] = uint8((j/4%size.X + j/4/size.X) * 255 / (size.X + size.Y))
			}
		}
		for _, q := range []int{1, 50, 90, 100} {
			var buf bytes.Buffer
			if err := stdjpeg.Encode(&buf, img, &stdjpeg.Options{Quality: q}); err != nil {
				t.Fatal(err)
			}
			out[size.String()+" q"+string(rune('0'+q/10))] = buf.Bytes()
		}
		gray := image.NewGray(img.Rect)
		copy(gray.Pix, img.Pix)
		var buf bytes.Buffer
		if err := stdjpeg.Encode(&buf, gray, &stdjpeg.Options{Quality: 75}); err != nil {
			t.Fatal(err)
		}
		out[size.String()+" gray"] = buf.Bytes()
	}
	return out
}

// same reports whether Decode and image/jpeg's agree on data: the same
// image to the last byte, or both an error.
func same(t testing.TB, name string, data []byte) {
	t.Helper()
	want, werr := stdjpeg.Decode(bytes.NewReader(data))
	got, gerr := Decode(bytes.NewReader(data))
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%s: error %v, image/jpeg's %v", name, gerr, werr)
	}
	if werr != nil {
		if gerr.Error() != werr.Error() {
			t.Errorf("%s: error %q, image/jpeg's %q", name, gerr, werr)
		}
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: a %T that differs from image/jpeg's %T", name, got, want)
	}
	wc, werr := stdjpeg.DecodeConfig(bytes.NewReader(data))
	gc, gerr := DecodeConfig(bytes.NewReader(data))
	if werr != nil || gerr != nil || wc != gc {
		t.Errorf("%s: config %v (%v), image/jpeg's %v (%v)", name, gc, gerr, wc, werr)
	}
}

// TestDecodeMatchesStandard: every sample decodes to image/jpeg's image,
// on the fast path and on the generic one.
func TestDecodeMatchesStandard(t *testing.T) {
	in := samples(t)
	saved := useAVX2
	defer func() { useAVX2 = saved }()
	for _, on := range []bool{false, saved} {
		useAVX2 = on
		for name, data := range in {
			same(t, name, data)
		}
	}
}

// FuzzDecode: on any input, Decode and image/jpeg agree.
func FuzzDecode(f *testing.F) {
	for _, data := range samples(f) {
		if len(data) < 8000 {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := stdjpeg.DecodeConfig(bytes.NewReader(data))
		if err == nil && cfg.Width*cfg.Height > 1<<20 {
			return // a bomb: both would allocate it
		}
		same(t, "input", data)
	})
}
