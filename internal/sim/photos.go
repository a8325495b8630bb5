package sim

import (
	"fmt"
	"image"
	"runtime"
	"sync"

	xdraw "golang.org/x/image/draw"
)

// Photos serves a world's photos at one size, each drawn and encoded once
// and then answered from memory: a site behind a warm cache, whose image
// requests cost a copy. Servers of one world may share it, and Warm fills it
// before a measurement so that no request pays for the drawing.
type Photos struct {
	size image.Point
	mu   sync.Mutex
	m    map[photoKey][]byte
}

type photoKey struct {
	seed        int64
	id, q, crop int
}

// NewPhotos returns an empty store of photos served at size; the zero
// size keeps the pictures' own 96x96.
func NewPhotos(size image.Point) *Photos {
	return &Photos{size: size, m: map[photoKey][]byte{}}
}

// get returns the photo's bytes, encoding it on first use.
func (p *Photos) get(k photoKey) ([]byte, error) {
	p.mu.Lock()
	b, ok := p.m[k]
	p.mu.Unlock()
	if ok {
		return b, nil
	}
	b, err := encodePhoto(k.seed, k.id, k.q, k.crop, p.size)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.m[k] = b
	p.mu.Unlock()
	return b, nil
}

// Warm encodes every photo of w's ads on all cores, and returns their
// count and total size in bytes.
func (p *Photos) Warm(w *World) (n int, bytes int64, err error) {
	var keys []photoKey
	seen := map[photoKey]bool{}
	for i := range w.Ads {
		for _, ph := range w.Ads[i].Photos {
			k := photoKey{w.Seed, ph.ID, ph.Quality, ph.Crop}
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	next := make(chan photoKey)
	errs := make(chan error, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			var first error
			for k := range next {
				if _, err := p.get(k); err != nil && first == nil {
					first = err
				}
			}
			errs <- first
		})
	}
	for _, k := range keys {
		next <- k
	}
	close(next)
	wg.Wait()
	close(errs)
	for e := range errs {
		if e != nil {
			return 0, 0, fmt.Errorf("warming the photos: %w", e)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, k := range keys {
		bytes += int64(len(p.m[k]))
	}
	return len(keys), bytes, nil
}

// scaleUp returns img scaled to size with Catmull-Rom, as a site's
// full-size photo of the same picture.
func scaleUp(img *image.RGBA, size image.Point) *image.RGBA {
	dst := image.NewRGBA(image.Rectangle{Max: size})
	xdraw.CatmullRom.Scale(dst, dst.Bounds(), img, img.Bounds(), xdraw.Src, nil)
	return dst
}
