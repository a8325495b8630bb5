package imagehash

import (
	"image"
	"image/draw"
	"math"
	"sync"

	xdraw "golang.org/x/image/draw"
)

// The gray copy that is hashed is the image scaled to workSize x workSize
// with x/image/draw's BiLinear kernel into RGBA, then weighed to luminance.
// downscale computes exactly that, bit for bit, straight from the planes
// of a decoded JPEG (*image.YCbCr or *image.Gray): every source pixel is
// converted to RGB once instead of once per kernel tap, the three colour
// planes are filtered without an RGBA copy over fixed-width taps, and the
// buffers are reused.
// Other images go through x/image/draw itself. The pHash values, which
// linking compares with hashes already stored, therefore do not change;
// TestDownscaleMatchesXDraw checks it.

// scratch holds the buffers of one Hash, reused through a pool.
type scratch struct {
	h, v distrib
	// hw and vw are the horizontal and vertical weights as fixed-width
	// rows (taps), zero-padded: the padding adds exact zeros, which leaves
	// every sum as it is.
	hw, vw taps
	// hw4 are hw's weights four columns at a time, tap by tap: the weight
	// of column 4g+j's tap i at hw4[(g*k+i)*4+j].
	hw4 []float64
	// hinv are the horizontal pass's 1/(total weight * 0xffff) per
	// destination column.
	hinv [workSize]float64
	// px is one source row in 16-bit RGB, four lanes a pixel (R, G, B and
	// a lane always zero, so that a pixel is one vector of four), zero-padded
	// for the last taps.
	px       []float64
	tmp      []float64 // the horizontal pass: workSize columns by the source rows (RGB interleaved), zero-padded rows after
	fallback *image.RGBA
	// gray is the gray copy, and across its rows sampled across for the
	// pHashes of regions of the same horizontal extent.
	gray   [workSize * workSize]float64
	across [workSize][dctSize]float64
}

// taps are a distribution's weights, n per destination pixel, the first
// applying to source pixel start[d].
type taps struct {
	n      int
	start  []int
	weight []float64
	// maxStart is the largest start: the taps read up to maxStart+n.
	maxStart int
}

// set lays out d's weights as taps.
func (t *taps) set(d *distrib) {
	t.n = 0
	for _, s := range d.sources {
		if s.j > s.i {
			t.n = max(t.n, int(d.contribs[s.j-1].coord-d.contribs[s.i].coord)+1)
		}
	}
	t.n = max(t.n, 1)
	t.start = grow(t.start, len(d.sources))
	t.weight = grow(t.weight, len(d.sources)*t.n)
	clear(t.weight)
	t.maxStart = 0
	for x, s := range d.sources {
		t.start[x] = 0
		if s.j > s.i {
			t.start[x] = int(d.contribs[s.i].coord)
		}
		t.maxStart = max(t.maxStart, t.start[x])
		w := t.weight[x*t.n : x*t.n+t.n]
		for _, c := range d.contribs[s.i:s.j] {
			w[int(c.coord)-t.start[x]] = c.weight
		}
	}
}

// byFour lays t's weights out four destination pixels at a time, tap by
// tap, into buf: the weight of pixel 4g+j's tap i at [(g*n+i)*4+j].
func (t *taps) byFour(buf []float64) []float64 {
	buf = grow(buf, len(t.weight))
	for x := range len(t.start) {
		g, j := x/4, x%4
		for i := range t.n {
			buf[(g*t.n+i)*4+j] = t.weight[x*t.n+i]
		}
	}
	return buf
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// source and contrib mirror x/image/draw's distribution of source pixels
// over destination pixels.
type source struct {
	i, j               int32
	invTotalWeight     float64
	invTotalWeightFFFF float64
}

type contrib struct {
	coord  int32
	weight float64
}

type distrib struct {
	sources  []source
	contribs []contrib
}

// set distributes sw source columns (or rows) over dw destination ones
// with the tent kernel, exactly as x/image/draw's newDistrib does for
// BiLinear, reusing d's slices.
func (d *distrib) set(dw, sw int32) {
	const support = 1.0
	scale := float64(sw) / float64(dw)
	halfWidth, kernelArgScale := support, 1.0
	if scale > 1 {
		halfWidth *= scale
		kernelArgScale = 1 / scale
	}
	d.sources = grow(d.sources, int(dw))
	n := int32(0)
	for x := range d.sources {
		center := float64((float64(x)+0.5)*scale) - 0.5
		i := max(int32(math.Floor(center-halfWidth)), 0)
		j := int32(math.Ceil(center + halfWidth))
		if j > sw {
			j = max(sw, i)
		}
		d.sources[x] = source{i: i, j: j, invTotalWeight: center}
		n += j - i
	}
	d.contribs = grow(d.contribs, int(n))[:0]
	for k, b := range d.sources {
		totalWeight := 0.0
		l := int32(len(d.contribs))
		for coord := b.i; coord < b.j; coord++ {
			t := (b.invTotalWeight - float64(coord)) * kernelArgScale
			if t < 0 {
				t = -t
			}
			if t >= support {
				continue
			}
			weight := 1 - t
			if weight == 0 {
				continue
			}
			totalWeight += weight
			d.contribs = append(d.contribs, contrib{coord, weight})
		}
		totalWeight = 1 / totalWeight
		d.sources[k] = source{i: l, j: int32(len(d.contribs)), invTotalWeight: totalWeight, invTotalWeightFFFF: totalWeight / 0xffff}
	}
}

// grow returns s with length n, reallocated only when too small.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// downscale writes the luminance of img scaled to workSize x workSize into
// gray.
func downscale(img image.Image, gray *[workSize * workSize]float64) {
	s := scratchPool.Get().(*scratch)
	defer scratchPool.Put(s)
	s.downscale(img, gray)
}

// downscale is downscale with s's buffers.
func (s *scratch) downscale(img image.Image, gray *[workSize * workSize]float64) {
	switch src := img.(type) {
	case *image.YCbCr:
		if src.Rect.Min.X < 0 || src.Rect.Min.Y < 0 {
			break // never from a decoder; x/image/draw has its own ways there
		}
		switch src.SubsampleRatio {
		case image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422,
			image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio440:
			s.planes(src.Rect, func(y int) { s.ycbcrRow(src, y) })
			s.vertical(gray)
			return
		}
	case *image.Gray:
		s.planes(src.Rect, func(y int) { s.grayRow(src, y) })
		s.vertical(gray)
		return
	}
	if s.fallback == nil {
		s.fallback = image.NewRGBA(image.Rect(0, 0, workSize, workSize))
	}
	small := s.fallback
	xdraw.BiLinear.Scale(small, small.Bounds(), img, img.Bounds(), draw.Src, nil)
	for i := range gray {
		p := small.Pix[i*4 : i*4+3]
		gray[i] = float64(0.299*float64(p[0])) + float64(0.587*float64(p[1])) + float64(0.114*float64(p[2]))
	}
}

// planes runs the horizontal pass over every row of r, row(y) having
// filled s.r, s.g and s.b with row y in 16-bit RGB.
func (s *scratch) planes(r image.Rectangle, row func(y int)) {
	sw, sh := r.Dx(), r.Dy()
	s.h.set(workSize, int32(sw))
	s.v.set(workSize, int32(sh))
	s.hw.set(&s.h)
	s.vw.set(&s.v)
	// The taps of the last columns and rows may reach past the image:
	// their weights there are zero, and so are the values. The fourth
	// lane of every pixel stays zero.
	s.px = grow(s.px, 4*(sw+s.hw.n))
	clear(s.px)
	// One more value after the rows: the horizontal pass writes a
	// column's three sums as four, the fourth (a zero) where the next
	// column's first goes before it is written.
	s.tmp = grow(s.tmp, 3*workSize*(sh+s.vw.n)+1)
	clear(s.tmp[3*workSize*sh:])
	for x := range s.hinv {
		s.hinv[x] = s.h.sources[x].invTotalWeightFFFF
	}
	s.hw4 = s.hw.byFour(s.hw4)
	for y := range sh {
		row(r.Min.Y + y)
		s.horizontal(s.tmp[3*workSize*y : 3*workSize*(y+1)+1])
	}
}

// horizontalGeneric is the horizontal pass over the row in s.px, into
// out: for each destination column the weighted sums of its taps, channel
// by channel in the order of the taps, times the column's 1/(total
// weight * 0xffff). horizontalAVX2 does the same, a pixel's three
// channels at once.
func (s *scratch) horizontalGeneric(out []float64) {
	k := s.hw.n
	for x, st := range s.hw.start[:workSize] {
		w := s.hw.weight[x*k : x*k+k]
		p := s.px[4*st : 4*(st+k)]
		var sr, sg, sb float64
		for i, wi := range w {
			q := p[4*i : 4*i+3]
			sr += float64(q[0] * wi)
			sg += float64(q[1] * wi)
			sb += float64(q[2] * wi)
		}
		inv := s.hinv[x]
		d := out[3*x : 3*x+3]
		d[0] = sr * inv
		d[1] = sg * inv
		d[2] = sb * inv
	}
}

// ycbcrRow converts row y of src to 16-bit RGB as image/color does.
func (s *scratch) ycbcrRow(src *image.YCbCr, y int) {
	yi := (y - src.Rect.Min.Y) * src.YStride
	var ci int
	switch src.SubsampleRatio {
	case image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio440:
		ci = (y/2 - src.Rect.Min.Y/2) * src.CStride
	default:
		ci = (y - src.Rect.Min.Y) * src.CStride
	}
	halfX := src.SubsampleRatio == image.YCbCrSubsampleRatio420 || src.SubsampleRatio == image.YCbCrSubsampleRatio422
	minX := src.Rect.Min.X
	ys := src.Y[yi : yi+src.Rect.Dx()]
	px := s.px[:4*len(ys)]
	switch {
	case !halfX: // a chroma sample per luma sample
		convert444(px, ys, src.Cb[ci:ci+len(ys)], src.Cr[ci:ci+len(ys)])
	case minX%2 == 0: // two luma samples per chroma sample
		pairs := len(ys) / 2
		convert420(px, ys[:2*pairs], src.Cb[ci:ci+pairs], src.Cr[ci:ci+pairs])
		if len(ys)%2 == 1 {
			i := len(ys) - 1
			px[4*i], px[4*i+1], px[4*i+2] = toRGB(ys[i], src.Cb[ci+pairs], src.Cr[ci+pairs])
		}
	default: // a sub-image starting between two luma samples of a chroma sample
		for i, yy := range ys {
			pj := ci + (minX+i)/2 - minX/2
			px[4*i], px[4*i+1], px[4*i+2] = toRGB(yy, src.Cb[pj], src.Cr[pj])
		}
	}
}

// The conversions below are image/color's YCbCr to 16-bit RGB: for each
// channel clamp((y*0x10101 + k1*(cb-128) + k2*(cr-128)) >> 8) to
// [0, 0xffff], which is clamping the sum to [0, 0xffffff] before the
// shift. A pair of pixels whose six sums all lie in that range (the
// usual case: their OR has no bit from 24 up) skips the clamps.

// convert420 converts pairs of pixels sharing a chroma sample:
// len(ys) == 2*len(cb) == 2*len(cr), and px at least four times as long as
// ys (R, G and B of pixel i at px[4i:4i+3]; the fourth lane is left).
func convert420(px []float64, ys, cb, cr []uint8) {
	px = px[:4*len(ys)]
	cr = cr[:len(cb)]
	for i := 1 + 2*convert420Fast(px, ys, cb, cr); i < len(ys); i += 2 {
		j := i >> 1
		pcb := int32(cb[j]) - 128
		pcr := int32(cr[j]) - 128
		rc, gc, bc := 91881*pcr, -22554*pcb-46802*pcr, 116130*pcb
		y0, y1 := int32(ys[i-1])*0x10101, int32(ys[i])*0x10101
		r0, r1, g0, g1, b0, b1 := y0+rc, y1+rc, y0+gc, y1+gc, y0+bc, y1+bc
		if uint32(r0|r1|g0|g1|b0|b1) >= 1<<24 {
			r0, r1, g0, g1, b0, b1 = clamp24(r0), clamp24(r1), clamp24(g0), clamp24(g1), clamp24(b0), clamp24(b1)
		}
		p := px[4*i-4 : 4*i+3]
		p[0], p[1], p[2] = float64(r0>>8), float64(g0>>8), float64(b0>>8)
		p[4], p[5], p[6] = float64(r1>>8), float64(g1>>8), float64(b1>>8)
	}
}

// convert444 converts pixels with a chroma sample each: len(cb) ==
// len(cr) == len(ys), and px at least four times as long.
func convert444(px []float64, ys, cb, cr []uint8) {
	px = px[:4*len(ys)]
	cb, cr = cb[:len(ys)], cr[:len(ys)]
	for i, yy := range ys {
		pcb := int32(cb[i]) - 128
		pcr := int32(cr[i]) - 128
		y1 := int32(yy) * 0x10101
		rv, gv, bv := y1+91881*pcr, y1-22554*pcb-46802*pcr, y1+116130*pcb
		if uint32(rv|gv|bv) >= 1<<24 {
			rv, gv, bv = clamp24(rv), clamp24(gv), clamp24(bv)
		}
		p := px[4*i : 4*i+3]
		p[0], p[1], p[2] = float64(rv>>8), float64(gv>>8), float64(bv>>8)
	}
}

// toRGB converts one pixel.
func toRGB(y, cb, cr uint8) (r, g, b float64) {
	y1 := int32(y) * 0x10101
	pcb := int32(cb) - 128
	pcr := int32(cr) - 128
	return float64(clamp24(y1+91881*pcr) >> 8),
		float64(clamp24(y1-22554*pcb-46802*pcr) >> 8),
		float64(clamp24(y1+116130*pcb) >> 8)
}

func clamp24(v int32) int32 { return min(max(v, 0), 0xffffff) }

// grayRow converts row y of src to 16-bit gray in all three channels.
func (s *scratch) grayRow(src *image.Gray, y int) {
	i0 := (y - src.Rect.Min.Y) * src.Stride
	pix := src.Pix[i0 : i0+src.Rect.Dx()]
	px := s.px[:4*len(pix)]
	for i, v := range pix {
		f := float64(uint32(v) * 0x101)
		p := px[4*i : 4*i+3]
		p[0], p[1], p[2] = f, f, f
	}
}

// vertical runs the vertical pass into gray, a destination row at a
// time, rounding each channel to 8 bits as the RGBA copy did, then weighing
// them to luminance. Each pixel's sums are taken in the order of the
// contributions, as x/image/draw takes them, three rows at a time and
// then the last one or two.
func (s *scratch) vertical(gray *[workSize * workSize]float64) {
	const rowLen = 3 * workSize
	var acc [rowLen]float64
	k := s.vw.n
	for dy, st := range s.vw.start[:workSize] {
		ws := s.vw.weight[dy*k : dy*k+k]
		rows := s.tmp[rowLen*st : rowLen*(st+k)]
		var pa float64
		if len(ws) < 3 {
			acc = [rowLen]float64{}
		}
		i := 0
		for ; i+2 < len(ws); i += 3 {
			r0 := (*[rowLen]float64)(rows[rowLen*i:])
			r1 := (*[rowLen]float64)(rows[rowLen*(i+1):])
			r2 := (*[rowLen]float64)(rows[rowLen*(i+2):])
			w0, w1, w2 := ws[i], ws[i+1], ws[i+2]
			// 0 + x is x: the first taps set the sums.
			sweep3(&acc, r0, r1, r2, w0, w1, w2, i == 0)
			pa += w0
			pa += w1
			pa += w2
		}
		for ; i < len(ws); i++ {
			sweep1(&acc, (*[rowLen]float64)(rows[rowLen*i:]), ws[i])
			pa += ws[i]
		}
		inv := s.v.sources[dy].invTotalWeight
		out := gray[dy*workSize : dy*workSize+workSize]
		for dx := range out {
			p := acc[3*dx : 3*dx+3]
			r := float64(uint8(ftou(min(p[0], pa)*inv) >> 8))
			g := float64(uint8(ftou(min(p[1], pa)*inv) >> 8))
			b := float64(uint8(ftou(min(p[2], pa)*inv) >> 8))
			out[dx] = float64(0.299*r) + float64(0.587*g) + float64(0.114*b)
		}
	}
}

// ftou converts [0, 1] to [0, 0xffff] as x/image/draw does.
func ftou(f float64) uint16 {
	i := int32(float64(0xffff*f) + 0.5)
	if i > 0xffff {
		return 0xffff
	}
	if i > 0 {
		return uint16(i)
	}
	return 0
}

// sweep3Generic adds three rows' taps to acc, left to right: acc + r0*w0 +
// r1*w1 + r2*w2, or with set r0*w0 + r1*w1 + r2*w2.
func sweep3Generic(acc, r0, r1, r2 *[3 * workSize]float64, w0, w1, w2 float64, set bool) {
	if set {
		for j := range acc {
			acc[j] = float64(r0[j]*w0) + float64(r1[j]*w1) + float64(r2[j]*w2)
		}
		return
	}
	for j := range acc {
		acc[j] = acc[j] + float64(r0[j]*w0) + float64(r1[j]*w1) + float64(r2[j]*w2)
	}
}

// sweep1Generic adds one row's tap to acc.
func sweep1Generic(acc, r0 *[3 * workSize]float64, w0 float64) {
	for j, v := range r0 {
		acc[j] += float64(v * w0)
	}
}
