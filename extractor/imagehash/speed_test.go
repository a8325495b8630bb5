package imagehash

import (
	"bytes"
	"image"
	"image/jpeg"
	"sync/atomic"
	"testing"

	"github.com/corona10/goimagehash"
	xdraw "golang.org/x/image/draw"

	"github.com/adwatch/adwatch/internal/record"
	"github.com/adwatch/adwatch/internal/sim"
)

// adPhotos are JPEGs the size of the photos of a classified site (300x400,
// quality 85), made from simulator pictures.
func adPhotos(tb testing.TB, n int) [][]byte {
	tb.Helper()
	out := make([][]byte, n)
	for i := range out {
		img := image.NewRGBA(image.Rect(0, 0, 300, 400))
		xdraw.CatmullRom.Scale(img, img.Bounds(), sim.Picture(7, i), sim.Picture(7, i).Bounds(), xdraw.Src, nil)
		out[i] = jpegOf(tb, img, 85)
	}
	return out
}

// BenchmarkDecodeHash compares, photo for photo, Hash (decode, SHA-256,
// pHash and its nine crop variants) with plain goimagehash (decode and
// one pHash): photos/s is the figure docs/performance.md reports.
func BenchmarkDecodeHash(b *testing.B) {
	photos := adPhotos(b, 16)
	b.Run("adwatch", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := Hash(photos[i%len(photos)], 1<<24); err != nil {
				b.Fatal(err)
			}
			i++
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "photos/s")
	})
	b.Run("adwatch-xdraw", func(b *testing.B) {
		// Hash as it was before the fast path: the gray copy through
		// x/image/draw and an RGBA image.
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			data := photos[i%len(photos)]
			img, _, err := image.Decode(bytes.NewReader(data))
			if err != nil {
				b.Fatal(err)
			}
			_ = record.SHA256Hex(data)
			gray := viaXDraw(img)
			for _, r := range regions {
				_ = phashReference(gray, r.x0, r.y0, r.x1, r.y1)
			}
			i++
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "photos/s")
	})
	b.Run("goimagehash", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			data := photos[i%len(photos)]
			img, err := jpeg.Decode(bytes.NewReader(data))
			if err != nil {
				b.Fatal(err)
			}
			_ = record.SHA256Hex(data)
			if _, err := goimagehash.PerceptionHash(img); err != nil {
				b.Fatal(err)
			}
			i++
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "photos/s")
	})
}

// BenchmarkDecodeHashParallel is BenchmarkDecodeHash on GOMAXPROCS
// goroutines, each hashing whole photos: photos/s is the throughput of the
// machine's cores.
func BenchmarkDecodeHashParallel(b *testing.B) {
	photos := adPhotos(b, 16)
	for _, bc := range []struct {
		name string
		hash func([]byte) error
	}{
		{"adwatch", func(data []byte) error {
			_, err := Hash(data, 1<<24)
			return err
		}},
		{"goimagehash", func(data []byte) error {
			img, err := jpeg.Decode(bytes.NewReader(data))
			if err != nil {
				return err
			}
			_ = record.SHA256Hex(data)
			_, err = goimagehash.PerceptionHash(img)
			return err
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			var next atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := bc.hash(photos[int(next.Add(1))%len(photos)]); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "photos/s")
		})
	}
}

// BenchmarkDecodeOnly is the floor: image/jpeg decoding the same photos.
func BenchmarkDecodeOnly(b *testing.B) {
	photos := adPhotos(b, 16)
	i := 0
	for b.Loop() {
		if _, err := jpeg.Decode(bytes.NewReader(photos[i%len(photos)])); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkAfterDecode is what Hash adds to the decoder: the gray copy and
// the ten pHashes of a decoded 300x400 photo.
func BenchmarkAfterDecode(b *testing.B) {
	img, err := jpeg.Decode(bytes.NewReader(adPhotos(b, 1)[0]))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	s := new(scratch)
	for b.Loop() {
		s.downscale(img, &s.gray)
		_ = s.phashes(&s.gray, &regions)
	}
}
