package sim

import (
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The simulator serves the ads of Guayaquil as a third site, clasificados
// (configs/sites/clasificados.yaml): an Ecuadorian classifieds site in
// Spanish under /ec/, with numbers written the national way and no +593,
// the posted time day first in a sentence ("Publicado: 02/10/2020 15:04",
// Guayaquil's time), no age field (the ad's text says it), and the id in
// an attribute and in the URL.

var ecTmpl = template.Must(template.New("ec").Parse(`<!doctype html>
<html lang="es"><head><meta charset="utf-8"><title>{{.Title}} | Clasificados Ecuador</title></head><body>
<header><a href="/ec/">Clasificados Ecuador</a> &rsaquo; <a href="/ec/{{.Slug}}/">{{.City}}</a></header>
<main><section id="anuncio" data-ref="{{.ID}}">
<h2 class="titulo">{{.Title}}</h2>
<ul class="datos"><li class="ciudad">{{.City}}</li><li class="fecha">Publicado: {{.Posted}}</li><li class="nombre">{{.Poster}}</li></ul>
<div class="texto">{{range .Lines}}<p>{{.}}</p>{{end}}</div>
{{if .PhoneField}}<p class="contacto">Teléfono: <b class="telefono">{{.PhoneField}}</b></p>{{end}}
<div class="fotos">{{range .Images}}<img src="{{.}}" alt="foto">{{end}}</div>
</section></main></body></html>`))

// ecHome serves /ec/: the site's cities.
func (s *Server) ecHome(rw http.ResponseWriter) {
	var b strings.Builder
	b.WriteString(`<html lang="es"><body><h1>Clasificados Ecuador</h1><ul>`)
	for _, c := range SpanishCities {
		if _, ok := s.byCity[Slug(c)]; ok && ECCities[c] {
			fmt.Fprintf(&b, `<li><a href="%s">%s</a></li>`, cityPath(c), c)
		}
	}
	b.WriteString("</ul></body></html>")
	fmt.Fprint(rw, b.String())
}

// ecListing serves /ec/<city>/?pagina=N, 40 ads a page.
func (s *Server) ecListing(rw http.ResponseWriter, req *http.Request) {
	slug := strings.Trim(strings.TrimPrefix(req.URL.Path, "/ec/"), "/")
	ads, ok := s.byCity[slug]
	if !ok || !ECCities[ads[0].City] {
		http.NotFound(rw, req)
		return
	}
	const per = 40
	page, _ := strconv.Atoi(req.URL.Query().Get("pagina"))
	page = max(page, 1)
	var b strings.Builder
	fmt.Fprintf(&b, `<html lang="es"><body><h1>Anuncios en %s</h1><ol class="anuncios">`, template.HTMLEscapeString(ads[0].City))
	from := (page - 1) * per
	for _, a := range ads[min(from, len(ads)):min(from+per, len(ads))] {
		fmt.Fprintf(&b, `<li><a href="/ec/anuncio/%d">%s</a></li>`, a.ID, template.HTMLEscapeString(a.Title))
	}
	b.WriteString("</ol>")
	if from+per < len(ads) {
		fmt.Fprintf(&b, `<a rel="next" href="/ec/%s/?pagina=%d">Siguiente</a>`, slug, page+1)
	}
	b.WriteString("</body></html>")
	fmt.Fprint(rw, b.String())
}

// ecAd serves /ec/anuncio/<id>.
func (s *Server) ecAd(rw http.ResponseWriter, req *http.Request) {
	id, err := strconv.Atoi(strings.TrimPrefix(req.URL.Path, "/ec/anuncio/"))
	a, ok := s.byID[id]
	if err != nil || !ok || !ECCities[a.City] {
		http.NotFound(rw, req)
		return
	}
	if s.limit(rw, id) {
		return
	}
	rw.Header().Set("Content-Type", "text/html; charset=utf-8")
	err = ecTmpl.Execute(rw, map[string]any{
		"ID": a.ID, "Title": a.Title, "City": a.City, "Slug": Slug(a.City), "Poster": a.Poster,
		"Posted": a.PostedAt.In(ecZone).Format("02/01/2006 15:04"), "Lines": strings.Split(a.Body, "\n"),
		"PhoneField": a.PhoneField, "Images": s.imagePaths(a),
	})
	if err != nil {
		http.Error(rw, err.Error(), http.StatusInternalServerError)
	}
}

// ecZone is Guayaquil's time (UTC-5, no daylight saving time), in which
// clasificados writes its times.
var ecZone = func() *time.Location {
	if l, err := time.LoadLocation("America/Guayaquil"); err == nil {
		return l
	}
	return time.FixedZone("ECT", -5*3600)
}()
