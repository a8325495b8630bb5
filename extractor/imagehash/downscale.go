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
// planes are filtered without an RGBA copy, and the buffers are reused.
// Other images go through x/image/draw itself. The pHash values, which
// linking compares with hashes already stored, therefore do not change;
// TestDownscaleMatchesXDraw checks it.

// scratch holds the buffers of one downscale, reused through a pool.
type scratch struct {
	h, v     distrib
	rgb      []float64 // one source row in 16-bit RGB, the channels interleaved
	tmp      []float64 // the horizontal pass: workSize columns by the source rows, RGB interleaved
	fallback *image.RGBA
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
		gray[i] = 0.299*float64(p[0]) + 0.587*float64(p[1]) + 0.114*float64(p[2])
	}
}

// planes runs the horizontal pass over every row of r, row(y) having
// filled s.rgb with row y in 16-bit RGB.
func (s *scratch) planes(r image.Rectangle, row func(y int)) {
	sw, sh := r.Dx(), r.Dy()
	s.h.set(workSize, int32(sw))
	s.v.set(workSize, int32(sh))
	s.rgb = grow(s.rgb, 3*sw)
	s.tmp = grow(s.tmp, 3*workSize*sh)
	t := 0
	for y := range sh {
		row(r.Min.Y + y)
		rgb := s.rgb
		for _, src := range s.h.sources {
			var pr, pg, pb float64
			for _, c := range s.h.contribs[src.i:src.j] {
				p := rgb[3*c.coord : 3*c.coord+3]
				pr += float64(p[0] * c.weight)
				pg += float64(p[1] * c.weight)
				pb += float64(p[2] * c.weight)
			}
			d := s.tmp[t : t+3]
			d[0] = pr * src.invTotalWeightFFFF
			d[1] = pg * src.invTotalWeightFFFF
			d[2] = pb * src.invTotalWeightFFFF
			t += 3
		}
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
	rgb := s.rgb[:3*len(ys)]
	if !halfX || minX < 0 || minX%2 != 0 {
		for i, yy := range ys {
			pj := ci + i
			if halfX {
				pj = ci + (minX+i)/2 - minX/2
			}
			toRGB(rgb[3*i:3*i+3], yy, src.Cb[pj], src.Cr[pj])
		}
		return
	}
	// Two luma samples share each chroma sample.
	n := (len(ys) + 1) / 2
	cb, cr := src.Cb[ci:ci+n], src.Cr[ci:ci+n]
	for j := range cb {
		pcb1 := int(cb[j]) - 128
		pcr1 := int(cr[j]) - 128
		rc, gc, bc := 91881*pcr1, -22554*pcb1-46802*pcr1, 116130*pcb1
		for i := 2 * j; i < min(2*j+2, len(ys)); i++ {
			pyy1 := int(ys[i]) * 0x10101
			p := rgb[3*i : 3*i+3]
			p[0] = float64(clamp16((pyy1 + rc) >> 8))
			p[1] = float64(clamp16((pyy1 + gc) >> 8))
			p[2] = float64(clamp16((pyy1 + bc) >> 8))
		}
	}
}

// toRGB writes one pixel in 16-bit RGB, computed as image/color does.
func toRGB(p []float64, y, cb, cr uint8) {
	pyy1 := int(y) * 0x10101
	pcb1 := int(cb) - 128
	pcr1 := int(cr) - 128
	p[0] = float64(clamp16((pyy1 + 91881*pcr1) >> 8))
	p[1] = float64(clamp16((pyy1 - 22554*pcb1 - 46802*pcr1) >> 8))
	p[2] = float64(clamp16((pyy1 + 116130*pcb1) >> 8))
}

// grayRow converts row y of src to 16-bit gray in all three channels.
func (s *scratch) grayRow(src *image.Gray, y int) {
	i0 := (y - src.Rect.Min.Y) * src.Stride
	pix := src.Pix[i0 : i0+src.Rect.Dx()]
	rgb := s.rgb[:3*len(pix)]
	for i, v := range pix {
		f := float64(uint32(v) * 0x101)
		p := rgb[3*i : 3*i+3]
		p[0], p[1], p[2] = f, f, f
	}
}

func clamp16(v int) int { return min(max(v, 0), 0xffff) }

// vertical runs the vertical pass into gray, a destination row at a
// time, rounding each channel to 8 bits as the RGBA copy did, then weighing
// them to luminance. Each pixel's sums are taken in the order of the
// contributions, as x/image/draw takes them.
func (s *scratch) vertical(gray *[workSize * workSize]float64) {
	var acc [3 * workSize]float64
	for dy, src := range s.v.sources {
		acc = [3 * workSize]float64{}
		var pa float64
		for _, c := range s.v.contribs[src.i:src.j] {
			row := s.tmp[3*workSize*int(c.coord) : 3*workSize*int(c.coord+1)]
			for k, v := range row {
				acc[k] += float64(v * c.weight)
			}
			pa += c.weight
		}
		out := gray[dy*workSize : dy*workSize+workSize]
		for dx := range out {
			p := acc[3*dx : 3*dx+3]
			r := float64(uint8(ftou(min(p[0], pa)*src.invTotalWeight) >> 8))
			g := float64(uint8(ftou(min(p[1], pa)*src.invTotalWeight) >> 8))
			b := float64(uint8(ftou(min(p[2], pa)*src.invTotalWeight) >> 8))
			out[dx] = 0.299*r + 0.587*g + 0.114*b
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
