package sim

import (
	"bytes"
	"fmt"
	"html/template"
	"image"
	"image/color"
	"image/jpeg"
	"math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Server serves a World over HTTP.
type Server struct {
	w       *World
	byID    map[int]*Ad
	byCity  map[string][]*Ad
	limited sync.Map // ad ids already answered 429 once

	// Hits counts requests by path kind, for tests of the crawler's manners.
	RobotsHits, TrapHits, DisallowedHits, LimitedAnswers atomic.Int64
	// PerPage is the number of ads on a listing page.
	PerPage int
	// Photos, when set, serves the photos at its size and from memory once
	// encoded (a warm site); nil draws and encodes each 96x96 photo on every
	// request.
	Photos *Photos
}

// NewServer returns a server of w.
func NewServer(w *World) *Server {
	s := &Server{w: w, byID: map[int]*Ad{}, byCity: map[string][]*Ad{}, PerPage: 100}
	for i := range w.Ads {
		a := &w.Ads[i]
		s.byID[a.ID] = a
		s.byCity[Slug(a.City)] = append(s.byCity[Slug(a.City)], a)
	}
	for _, ads := range s.byCity {
		sort.Slice(ads, func(i, j int) bool { return ads[i].PostedAt.After(ads[j].PostedAt) })
	}
	return s
}

var pageTmpl = template.Must(template.New("ad").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>{{.Title}}</title></head><body>
<nav><a href="/">Home</a> <a href="/c/{{.Slug}}/">{{.City}}</a> <a href="/c/{{.Slug}}/calendar/{{.Day}}">Calendar</a></nav>
<article class="ad" data-id="{{.ID}}">
<h1 class="title">{{.Title}}</h1>
<div class="meta"><span class="city">{{.City}}</span> · <time datetime="{{.Posted}}">{{.PostedHuman}}</time> · <span class="age">Age: {{.Age}}</span> · <span class="poster">{{.Poster}}</span></div>
<div class="body">{{range .Lines}}<p>{{.}}</p>{{end}}</div>
{{if .PhoneField}}<div class="contact">Phone: <span class="phone">{{.PhoneField}}</span></div>{{end}}
<div class="gallery">{{range .Images}}<img src="{{.}}" alt="photo">{{end}}</div>
</article></body></html>`))

// ServeHTTP serves the site: /, /robots.txt, /c/<city>/?page=N,
// /c/<city>/calendar/<date> (a link trap), /ad/<id>.html,
// /img/<photo>-q<quality>-c<crop percent>.jpg, and the second layout's
// /old/<city>/?p=N and /old/post/<id> (oldschool.go), and the third
// site's /ec/, /ec/<city>/?pagina=N and /ec/anuncio/<id> (ec.go).
func (s *Server) ServeHTTP(rw http.ResponseWriter, req *http.Request) {
	p := req.URL.Path
	switch {
	case p == "/robots.txt":
		s.RobotsHits.Add(1)
		fmt.Fprint(rw, "User-agent: *\nDisallow: /c/archive/\n")
	case p == "/":
		var b strings.Builder
		b.WriteString("<html><body><h1>Simulated classifieds</h1><ul>")
		for _, c := range Cities {
			fmt.Fprintf(&b, `<li><a href="%s">%s</a></li>`, cityPath(c), c)
		}
		// The cities of ads in Spanish, when the world has them;
		// Guayaquil's are on the third site.
		for _, c := range SpanishCities {
			if _, ok := s.byCity[Slug(c)]; ok && SiteOf(c) == "simclassifieds" {
				fmt.Fprintf(&b, `<li><a href="%s">%s</a></li>`, cityPath(c), c)
			}
		}
		b.WriteString(`<li><a href="/c/archive/">Archive</a></li></ul></body></html>`)
		fmt.Fprint(rw, b.String())
	case strings.HasPrefix(p, "/c/archive/"):
		s.DisallowedHits.Add(1)
		fmt.Fprint(rw, "<html><body>archive</body></html>")
	case strings.Contains(p, "/calendar/"):
		s.TrapHits.Add(1)
		day, err := time.Parse("2006-01-02", p[strings.LastIndex(p, "/")+1:])
		if err != nil {
			http.NotFound(rw, req)
			return
		}
		fmt.Fprintf(rw, `<html><body><a href="%s">next day</a></body></html>`, strings.TrimSuffix(p, day.Format("2006-01-02"))+day.AddDate(0, 0, 1).Format("2006-01-02"))
	case p == "/ec/":
		s.ecHome(rw)
	case strings.HasPrefix(p, "/ec/anuncio/"):
		s.ecAd(rw, req)
	case strings.HasPrefix(p, "/ec/"):
		s.ecListing(rw, req)
	case strings.HasPrefix(p, "/old/post/"):
		s.oldAd(rw, req)
	case strings.HasPrefix(p, "/old/"):
		s.oldListing(rw, req)
	case strings.HasPrefix(p, "/c/"):
		s.listing(rw, req)
	case strings.HasPrefix(p, "/ad/"):
		s.ad(rw, req)
	case strings.HasPrefix(p, "/img/"):
		s.image(rw, req)
	default:
		http.NotFound(rw, req)
	}
}

func (s *Server) listing(rw http.ResponseWriter, req *http.Request) {
	slug := strings.Trim(strings.TrimPrefix(req.URL.Path, "/c/"), "/")
	ads, ok := s.byCity[slug]
	if !ok || SiteOf(ads[0].City) != "simclassifieds" {
		http.NotFound(rw, req)
		return
	}
	page, _ := strconv.Atoi(req.URL.Query().Get("page"))
	page = max(page, 1)
	var b strings.Builder
	fmt.Fprintf(&b, "<html><body><h1>%s</h1><ul>", slug)
	from := (page - 1) * s.PerPage
	for _, a := range ads[min(from, len(ads)):min(from+s.PerPage, len(ads))] {
		fmt.Fprintf(&b, `<li><a href="/ad/%d.html">%s</a></li>`, a.ID, template.HTMLEscapeString(a.Title))
	}
	b.WriteString("</ul>")
	if from+s.PerPage < len(ads) {
		fmt.Fprintf(&b, `<a class="next" href="/c/%s/?page=%d">next</a>`, slug, page+1)
	}
	fmt.Fprintf(&b, `<a href="/c/%s/calendar/2020-01-01">calendar</a></body></html>`, slug)
	fmt.Fprint(rw, b.String())
}

func (s *Server) ad(rw http.ResponseWriter, req *http.Request) {
	id, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(req.URL.Path, "/ad/"), ".html"))
	a, ok := s.byID[id]
	if err != nil || !ok || SiteOf(a.City) != "simclassifieds" {
		http.NotFound(rw, req)
		return
	}
	if s.limit(rw, id) {
		return
	}
	imgs := s.imagePaths(a)
	rw.Header().Set("Content-Type", "text/html; charset=utf-8")
	err = pageTmpl.Execute(rw, map[string]any{
		"ID": a.ID, "Title": a.Title, "City": a.City, "Slug": Slug(a.City), "Day": a.PostedAt.Format("2006-01-02"),
		"Posted": a.PostedAt.Format(time.RFC3339), "PostedHuman": a.PostedAt.Format("Jan 2, 3:04 PM"),
		"Age": a.Age, "Poster": a.Poster, "Lines": strings.Split(a.Body, "\n"), "PhoneField": a.PhoneField, "Images": imgs,
	})
	if err != nil {
		http.Error(rw, err.Error(), http.StatusInternalServerError)
	}
}

// limit answers 429 the first time some ads are asked for, so the
// crawler's manners are tested, and reports whether it did.
func (s *Server) limit(rw http.ResponseWriter, id int) bool {
	if id%37 != 0 {
		return false
	}
	if _, done := s.limited.LoadOrStore(id, true); done {
		return false
	}
	s.LimitedAnswers.Add(1)
	rw.Header().Set("Retry-After", "1")
	http.Error(rw, "slow down", http.StatusTooManyRequests)
	return true
}

// imagePaths are the paths of an ad's photos.
func (s *Server) imagePaths(a *Ad) []string {
	var imgs []string
	for _, ph := range a.Photos {
		imgs = append(imgs, fmt.Sprintf("/img/%d-q%d-c%d.jpg", ph.ID, ph.Quality, ph.Crop))
	}
	return imgs
}

func (s *Server) image(rw http.ResponseWriter, req *http.Request) {
	var id, q, crop int
	n, err := fmt.Sscanf(req.URL.Path, "/img/%d-q%d-c%d.jpg", &id, &q, &crop)
	if err != nil || n != 3 || q < 1 || q > 100 || crop < 0 || crop > 5 {
		http.NotFound(rw, req)
		return
	}
	var b []byte
	if s.Photos != nil {
		b, err = s.Photos.get(photoKey{s.w.Seed, id, q, crop})
	} else {
		b, err = encodePhoto(s.w.Seed, id, q, crop, image.Point{})
	}
	if err != nil {
		http.Error(rw, err.Error(), http.StatusInternalServerError)
		return
	}
	rw.Header().Set("Content-Type", "image/jpeg")
	_, _ = rw.Write(b)
}

// encodePhoto draws photo id, scales it to size unless size is zero, cuts
// crop percent off one side (the side fixed by the photo) and encodes it
// at quality q.
func encodePhoto(seed int64, id, q, crop int, size image.Point) ([]byte, error) {
	img := Picture(seed, id).(*image.RGBA)
	if size.X > 0 && size.Y > 0 {
		img = scaleUp(img, size)
	}
	var sub image.Image = img
	if crop > 0 {
		b := img.Bounds()
		cx, cy := b.Dx()*crop/100, b.Dy()*crop/100 // the same on the square 96x96
		r := [4]image.Rectangle{
			image.Rect(cx, 0, b.Dx(), b.Dy()), image.Rect(0, cy, b.Dx(), b.Dy()),
			image.Rect(0, 0, b.Dx()-cx, b.Dy()), image.Rect(0, 0, b.Dx(), b.Dy()-cy),
		}[id%4]
		sub = img.SubImage(r)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, sub, &jpeg.Options{Quality: q}); err != nil {
		return nil, fmt.Errorf("encoding photo %d: %w", id, err)
	}
	return buf.Bytes(), nil
}

// Picture draws photo id: a non-figurative composition of coloured shapes,
// the same for the same seed and id.
func Picture(seed int64, id int) image.Image {
	const size = 96
	r := rand.New(rand.NewPCG(uint64(seed), uint64(id)*2654435761+1))
	img := image.NewRGBA(image.Rect(0, 0, size, size))
	c0 := color.RGBA{uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256)), 255}
	c1 := color.RGBA{uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256)), 255}
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			t := float64(x+y) / (2 * size)
			img.Set(x, y, color.RGBA{lerp(c0.R, c1.R, t), lerp(c0.G, c1.G, t), lerp(c0.B, c1.B, t), 255})
		}
	}
	for range 14 + r.IntN(8) {
		c := color.RGBA{uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256)), 255}
		x0, y0 := r.IntN(size), r.IntN(size)
		w, h := 10+r.IntN(50), 10+r.IntN(50)
		round := r.IntN(2) == 0
		for y := y0; y < min(y0+h, size); y++ {
			for x := x0; x < min(x0+w, size); x++ {
				if round {
					dx, dy := float64(x-x0-w/2)/float64(w/2), float64(y-y0-h/2)/float64(h/2)
					if dx*dx+dy*dy > 1 {
						continue
					}
				}
				img.Set(x, y, c)
			}
		}
	}
	return img
}

func lerp(a, b uint8, t float64) uint8 { return uint8(float64(a)*(1-t) + float64(b)*t) }
