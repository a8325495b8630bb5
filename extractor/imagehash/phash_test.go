package imagehash

import (
	"bytes"
	"image/jpeg"
	"math/rand/v2"
	"testing"

	"github.com/corona10/goimagehash/etcs"
)

// phashReference is the pHash of one region as Hash computed it before
// the regions shared their sampling: the region sampled bilinearly to
// dctSize x dctSize, then the lowest 8x8 DCT frequencies against their
// median. phashes must give its bits exactly.
func phashReference(gray *[workSize * workSize]float64, x0, y0, x1, y1 int) uint64 {
	var pixels [dctSize * dctSize]float64
	xs := samples(x0, x1)
	ys := samples(y0, y1)
	for y, sy := range ys {
		top, bot := gray[sy.i*workSize:sy.i*workSize+workSize], gray[sy.i1*workSize:sy.i1*workSize+workSize]
		row := pixels[y*dctSize : y*dctSize+dctSize]
		for x, sx := range xs {
			t := float64(top[sx.i]*(1-sx.w)) + float64(top[sx.i1]*sx.w)
			b := float64(bot[sx.i]*(1-sx.w)) + float64(bot[sx.i1]*sx.w)
			row[x] = float64(t*(1-sy.w)) + float64(b*sy.w)
		}
	}
	var rows [dctSize][8]float64
	for y := 0; y < dctSize; y++ {
		row := pixels[y*dctSize : y*dctSize+dctSize]
		var s0, s1, s2, s3, s4, s5, s6, s7 float64
		for x, v := range row {
			c := &cosColumns[x]
			s0 += float64(v * c[0])
			s1 += float64(v * c[1])
			s2 += float64(v * c[2])
			s3 += float64(v * c[3])
			s4 += float64(v * c[4])
			s5 += float64(v * c[5])
			s6 += float64(v * c[6])
			s7 += float64(v * c[7])
		}
		rows[y] = [8]float64{s0, s1, s2, s3, s4, s5, s6, s7}
	}
	var low [64]float64
	for v := 0; v < 8; v++ {
		for u := 0; u < 8; u++ {
			var sum float64
			for y := 0; y < dctSize; y++ {
				sum += float64(rows[y][u] * cosTable[v][y])
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

// TestPHashesMatchReference: phashes gives, region for region, the bits
// of phashReference, on gray copies of photos, noise and gradients, for
// Hash's regions and for random ones (shared and unshared extents).
func TestPHashesMatchReference(t *testing.T) {
	eachKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 4))
		grays := map[string]*[workSize * workSize]float64{}
		for i, data := range adPhotos(t, 3) {
			img, err := jpeg.Decode(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			var g [workSize * workSize]float64
			downscale(img, &g)
			grays["photo"+string(rune('0'+i))] = &g
		}
		noise, gradient := new([workSize * workSize]float64), new([workSize * workSize]float64)
		for i := range noise {
			noise[i] = 255 * r.Float64()
			gradient[i] = 0.299*float64(i%workSize) + 0.587*float64(i/workSize)
		}
		grays["noise"], grays["gradient"] = noise, gradient
		randomRegions := func() (rs [10]region) {
			for i := range rs {
				x0, y0 := r.IntN(workSize/2), r.IntN(workSize/2)
				rs[i] = region{x0, y0, x0 + 1 + r.IntN(workSize-x0), y0 + 1 + r.IntN(workSize-y0)}
				if i > 0 && r.IntN(2) == 0 { // the horizontal extent of an earlier one
					rs[i].x0, rs[i].x1 = rs[i-1].x0, rs[i-1].x1
				}
			}
			return rs
		}
		s := new(scratch)
		for name, g := range grays {
			sets := [][10]region{regions}
			for range 20 {
				sets = append(sets, randomRegions())
			}
			for _, rs := range sets {
				got := s.phashes(g, &rs)
				for i, reg := range rs {
					if want := phashReference(g, reg.x0, reg.y0, reg.x1, reg.y1); got[i] != want {
						t.Errorf("%s, region %v: %#016x, want %#016x", name, reg, got[i], want)
					}
				}
			}
		}
	})
}
