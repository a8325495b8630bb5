package imagehash

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"testing"

	"github.com/adwatch/adwatch/internal/record"
)

func picture(seed int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 120, 120))
	for y := 0; y < 120; y++ {
		for x := 0; x < 120; x++ {
			v := uint8((x*seed + y*(7+seed)) % 256)
			if (x/20+y/30+seed)%3 == 0 {
				v = 255 - v
			}
			img.Set(x, y, color.RGBA{v, uint8(x * 2), uint8(y * 2), 255})
		}
	}
	return img
}

func encode(t *testing.T, img image.Image, q int) []byte {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestReencodedStaysNear(t *testing.T) {
	a, err := Hash(encode(t, picture(3), 95), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Hash(encode(t, picture(3), 60), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if d := Distance(a.PHash, b.PHash); d > 8 {
		t.Errorf("re-encoded photo moved %d bits, want <= 8", d)
	}
	c, _ := Hash(encode(t, picture(11), 90), 1<<20)
	if d := Distance(a.PHash, c.PHash); d <= 8 {
		t.Errorf("different photos only %d bits apart", d)
	}
}

// pngHeader writes a PNG that claims width x height but holds no pixel data.
func pngHeader(w, h uint32) []byte {
	var buf bytes.Buffer
	buf.Write([]byte("\x89PNG\r\n\x1a\n"))
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2
	chunk := func(typ string, data []byte) {
		_ = binary.Write(&buf, binary.BigEndian, uint32(len(data)))
		buf.WriteString(typ)
		buf.Write(data)
		_ = binary.Write(&buf, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	}
	chunk("IHDR", ihdr)
	chunk("IEND", nil)
	return buf.Bytes()
}

func TestRejectsBadImages(t *testing.T) {
	var small bytes.Buffer
	_ = png.Encode(&small, picture(1))
	for _, tc := range []struct {
		name string
		data []byte
		is   error
	}{
		{"bomb 30000x30000", pngHeader(30000, 30000), ErrTooLarge},
		{"not an image", []byte("<html>hello</html>"), nil},
		{"truncated png", small.Bytes()[:len(small.Bytes())/2], nil},
		{"empty", nil, nil},
	} {
		_, err := Hash(tc.data, 40_000_000)
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		if tc.is != nil && !errors.Is(err, tc.is) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.is)
		}
	}
}

func BenchmarkHash(b *testing.B) {
	var buf bytes.Buffer
	_ = jpeg.Encode(&buf, picture(5), &jpeg.Options{Quality: 85})
	data := buf.Bytes()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Hash(data, 1<<24); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzHash feeds hostile bytes to the decoders: no input may panic, a
// refused image says why, and an accepted one is within the pixel limit and
// hashes the same way twice.
func FuzzHash(f *testing.F) {
	small := image.NewRGBA(image.Rect(0, 0, 16, 12))
	for i := range small.Pix {
		small.Pix[i] = byte(i * 7)
	}
	var p, j, g bytes.Buffer
	_ = png.Encode(&p, small)
	_ = jpeg.Encode(&j, small, &jpeg.Options{Quality: 80})
	_ = gif.Encode(&g, small, nil)
	f.Add(p.Bytes())
	f.Add(j.Bytes())
	f.Add(g.Bytes())
	f.Add(pngHeader(1, 1))
	f.Add([]byte("RIFF\x00\x00\x00\x00WEBPVP8 "))
	const limit = 1 << 16
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Hash(data, limit)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("error without a message")
			}
			return
		}
		if r.Width*r.Height > limit || r.Width <= 0 || r.Height <= 0 {
			t.Fatalf("accepted a %dx%d image over the limit %d", r.Width, r.Height, limit)
		}
		if r.SHA256 != record.SHA256Hex(data) {
			t.Fatal("sha256 is not of the bytes")
		}
		if len(r.Crops) != 9 {
			t.Fatalf("%d crop hashes, want 9", len(r.Crops))
		}
		again, err := Hash(data, limit)
		if err != nil || again.PHash != r.PHash {
			t.Fatalf("hashing twice differs: %v %x %x", err, again.PHash, r.PHash)
		}
	})
}
