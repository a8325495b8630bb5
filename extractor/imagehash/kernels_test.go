package imagehash

import (
	"math/rand/v2"
	"testing"
)

// eachKernel runs f as a subtest on the generic passes and, where the CPU
// has them, on the AVX2 ones: both must give the same bits.
func eachKernel(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	saved := useAVX2
	defer func() { useAVX2 = saved }()
	names := map[bool]string{false: "generic", true: "avx2"}
	for _, on := range []bool{false, true} {
		if on && !saved {
			t.Log("no AVX2 on this CPU: the generic passes alone")
			continue
		}
		useAVX2 = on
		t.Run(names[on], f)
	}
}

// TestKernelsMatchGeneric: each AVX2 pass gives the generic pass's result
// to the bit, on random values (saturated YCbCr pixels included) and the
// tap counts of up- and downscaling.
func TestKernelsMatchGeneric(t *testing.T) {
	if !useAVX2 {
		t.Skip("no AVX2 on this CPU")
	}
	defer func() { useAVX2 = true }()
	r := rand.New(rand.NewPCG(5, 6))
	t.Run("convert420", func(t *testing.T) {
		for _, n := range []int{2, 16, 18, 30, 300, 302, 4000} {
			ys, cb, cr := make([]uint8, n), make([]uint8, n/2), make([]uint8, n/2)
			for _, p := range [][]uint8{ys, cb, cr} {
				for i := range p {
					p[i] = uint8(r.IntN(256))
					if r.IntN(8) == 0 { // the extremes, where the clamps act
						p[i] = []uint8{0, 255}[r.IntN(2)]
					}
				}
			}
			got, want := make([]float64, 4*n), make([]float64, 4*n)
			useAVX2 = true
			convert420(got, ys, cb, cr)
			useAVX2 = false
			convert420(want, ys, cb, cr)
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("%d pixels: value %d (pixel %d lane %d) is %v, want %v", n, i, i/4, i%4, got[i], want[i])
				}
			}
		}
	})
	t.Run("passes", func(t *testing.T) {
		for _, size := range [][2]int{{300, 400}, {96, 96}, {1, 1}, {129, 3}, {1000, 777}, {128, 128}} {
			sw, sh := size[0], size[1]
			var s scratch
			s.h.set(workSize, int32(sw))
			s.v.set(workSize, int32(sh))
			s.hw.set(&s.h)
			s.vw.set(&s.v)
			s.hw4 = s.hw.byFour(s.hw4)
			for x := range s.hinv {
				s.hinv[x] = s.h.sources[x].invTotalWeightFFFF
			}
			s.px = make([]float64, 4*(sw+s.hw.n))
			for i := range sw {
				for c := range 3 {
					s.px[4*i+c] = float64(r.IntN(0x10000))
				}
			}
			got, want := make([]float64, 3*workSize+1), make([]float64, 3*workSize+1)
			useAVX2 = true
			s.horizontal(got)
			useAVX2 = false
			s.horizontal(want)
			for i := range 3 * workSize {
				if got[i] != want[i] {
					t.Fatalf("%dx%d: horizontal value %d is %v, want %v", sw, sh, i, got[i], want[i])
				}
			}
			var rows [4][3 * workSize]float64
			for i := range rows {
				for j := range rows[i] {
					rows[i][j] = r.Float64()
				}
			}
			w := [3]float64{r.Float64(), r.Float64(), r.Float64()}
			for _, set := range []bool{true, false} {
				a, b := rows[3], rows[3]
				useAVX2 = true
				sweep3(&a, &rows[0], &rows[1], &rows[2], w[0], w[1], w[2], set)
				sweep1(&a, &rows[1], w[1])
				useAVX2 = false
				sweep3(&b, &rows[0], &rows[1], &rows[2], w[0], w[1], w[2], set)
				sweep1(&b, &rows[1], w[1])
				if a != b {
					t.Fatalf("the vertical sweeps (set %v) differ", set)
				}
			}
		}
	})
	t.Run("dct rows", func(t *testing.T) {
		var across [workSize][dctSize]float64
		for range 50 {
			for i := range across {
				for j := range across[i] {
					across[i][j] = 255 * r.Float64()
				}
			}
			ra, rb := r.IntN(workSize-1), r.IntN(workSize-1)
			sa, sb := sample{i: ra, i1: ra + 1, w: r.Float64()}, sample{i: rb, i1: rb, w: r.Float64()}
			var got, want [2][8]float64
			useAVX2 = true
			dctRows(&got, &across, sa, sb)
			useAVX2 = false
			dctRows(&want, &across, sa, sb)
			if got != want {
				t.Fatalf("dct rows differ: %v, want %v", got, want)
			}
		}
	})
}
