package sim

import (
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
)

// The simulator serves the ads of some cities as a second site with a
// layout unlike the first (configs/sites/oldschool.yaml): table-era pages
// under /old/, the id only in the URL, the age at the end of the title, the
// posted time in a sentence without seconds, the city in a breadcrumb, and
// the phone only in the body. The same crawler and extractor read both
// from their YAML alone.

// OldSchoolCities are the cities served by the second site.
var OldSchoolCities = map[string]bool{"Sacramento": true}

// SiteOf is the name of the site that serves an ad of city.
func SiteOf(city string) string {
	switch {
	case OldSchoolCities[city]:
		return "oldschool"
	case ECCities[city]:
		return "clasificados"
	}
	return "simclassifieds"
}

// AdPath is the path of an ad's page.
func AdPath(a Ad) string {
	switch {
	case OldSchoolCities[a.City]:
		return fmt.Sprintf("/old/post/%d", a.ID)
	case ECCities[a.City]:
		return fmt.Sprintf("/ec/anuncio/%d", a.ID)
	}
	return fmt.Sprintf("/ad/%d.html", a.ID)
}

// AdKey is the id adwatch gives the ad: its site and its id there.
func AdKey(a Ad) string { return fmt.Sprintf("%s:%d", SiteOf(a.City), a.ID) }

func cityPath(city string) string {
	switch {
	case OldSchoolCities[city]:
		return "/old/" + Slug(city) + "/"
	case ECCities[city]:
		return "/ec/" + Slug(city) + "/"
	}
	return "/c/" + Slug(city) + "/"
}

var oldTmpl = template.Must(template.New("old").Parse(`<html><head><title>{{.Title}} - {{.Age}}</title></head><body>
<ul class="crumbs"><li><a href="/">Home</a></li><li>California</li><li>{{.City}}</li></ul>
<table><tr><td class="posting">
<h2>{{.Title}} - {{.Age}}</h2>
<p class="date">Posted:  {{.Posted}}</p>
<table class="details"><tr><th>Name</th><td class="name">{{.Poster}}</td></tr></table>
<div id="postingbody">{{range .Lines}}{{.}}<br>{{end}}</div>
{{range .Images}}<a class="thumb" href="{{.}}">photo</a> {{end}}
</td></tr></table></body></html>`))

// oldListing serves /old/<city>/?p=N: a table of ads, 50 a page.
func (s *Server) oldListing(rw http.ResponseWriter, req *http.Request) {
	slug := strings.Trim(strings.TrimPrefix(req.URL.Path, "/old/"), "/")
	ads, ok := s.byCity[slug]
	if !ok || !OldSchoolCities[ads[0].City] {
		http.NotFound(rw, req)
		return
	}
	const per = 50
	page, _ := strconv.Atoi(req.URL.Query().Get("p"))
	page = max(page, 1)
	var b strings.Builder
	fmt.Fprintf(&b, "<html><body><table class=\"results\">")
	from := (page - 1) * per
	for _, a := range ads[min(from, len(ads)):min(from+per, len(ads))] {
		fmt.Fprintf(&b, `<tr><td>%s</td><td><a href="/old/post/%d">%s</a></td></tr>`, a.PostedAt.Format("Jan 2"), a.ID, template.HTMLEscapeString(a.Title))
	}
	b.WriteString("</table>")
	if from+per < len(ads) {
		fmt.Fprintf(&b, `<p><a href="/old/%s/?p=%d">Next &raquo;</a></p>`, slug, page+1)
	}
	b.WriteString("</body></html>")
	fmt.Fprint(rw, b.String())
}

// oldAd serves /old/post/<id>.
func (s *Server) oldAd(rw http.ResponseWriter, req *http.Request) {
	id, err := strconv.Atoi(strings.TrimPrefix(req.URL.Path, "/old/post/"))
	a, ok := s.byID[id]
	if err != nil || !ok || !OldSchoolCities[a.City] {
		http.NotFound(rw, req)
		return
	}
	lines := strings.Split(a.Body, "\n")
	if a.PhoneField != "" {
		lines = append(lines, "Phone: "+a.PhoneField)
	}
	rw.Header().Set("Content-Type", "text/html; charset=utf-8")
	err = oldTmpl.Execute(rw, map[string]any{
		"Title": a.Title, "Age": a.Age, "City": a.City, "Poster": a.Poster, "Lines": lines, "Images": s.imagePaths(a),
		"Posted": a.PostedAt.Format("Monday, January 2, 2006 3:04 pm"),
	})
	if err != nil {
		http.Error(rw, err.Error(), http.StatusInternalServerError)
	}
}
