package sim

import (
	"bytes"
	"image"
	"image/jpeg"
	"io"
	"net/http/httptest"
	"testing"

	"github.com/adwatch/adwatch/extractor/imagehash"
)

// TestPhotosServedWarm: a server with Photos answers every photo at the
// store's size (a cropped one a few percent smaller), the same bytes each
// time, and the full-size photo is the 96x96 picture's: its pHash within
// a few bits of the small one's.
func TestPhotosServedWarm(t *testing.T) {
	w, err := Generate(1, "small")
	if err != nil {
		t.Fatal(err)
	}
	ph := NewPhotos(image.Pt(300, 400))
	n, size, err := ph.Warm(w)
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 || size < int64(n)*1000 {
		t.Fatalf("warmed %d photos of %d bytes in all", n, size)
	}
	cold, warm := NewServer(w), NewServer(w)
	warm.Photos = ph
	ts, tc := httptest.NewServer(warm), httptest.NewServer(cold)
	defer ts.Close()
	defer tc.Close()
	get := func(base, path string) []byte {
		t.Helper()
		resp, err := ts.Client().Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %s", path, resp.Status)
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	checked := 0
	for i := range w.Ads {
		for _, path := range NewServer(w).imagePaths(&w.Ads[i]) {
			if checked == 40 {
				break
			}
			checked++
			big, again, small := get(ts.URL, path), get(ts.URL, path), get(tc.URL, path)
			if !bytes.Equal(big, again) {
				t.Fatalf("%s: served warm, the bytes changed", path)
			}
			cfg, err := jpeg.DecodeConfig(bytes.NewReader(big))
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if cfg.Width < 280 || cfg.Width > 300 || cfg.Height < 373 || cfg.Height > 400 {
				t.Errorf("%s: %dx%d, want 300x400 less a crop of up to 5%%", path, cfg.Width, cfg.Height)
			}
			hb, err := imagehash.Hash(big, 1<<24)
			if err != nil {
				t.Fatal(err)
			}
			hs, err := imagehash.Hash(small, 1<<24)
			if err != nil {
				t.Fatal(err)
			}
			if d := imagehash.Distance(hb.PHash, hs.PHash); d > 8 {
				t.Errorf("%s: full size %d bits from the 96x96 photo", path, d)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no photo in the small world")
	}
}
