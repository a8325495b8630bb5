package web

import (
	"bytes"
	"fmt"
	"html"
	"math"
	"net/http"
	"unicode/utf8"

	"github.com/adwatch/adwatch/indexer"
)

// network answers GET /api/networks/{id}: an indexer.NetworkView.
func (s *Server) network(w http.ResponseWriter, r *http.Request) {
	v, ok := s.networkView(w, r)
	if ok {
		writeJSON(w, http.StatusOK, v)
	}
}

// networkView looks up the request's network, answering the request
// itself when there is none.
func (s *Server) networkView(w http.ResponseWriter, r *http.Request) (indexer.NetworkView, bool) {
	v, ok, err := s.Index.Network(r.PathValue("id"), s.now())
	if err != nil {
		writeErr(w, http.StatusInternalServerError, err.Error())
		return v, false
	}
	if !ok {
		writeErr(w, http.StatusNotFound, "no such network")
		return v, false
	}
	return v, true
}

// networkGraph answers GET /api/networks/{id}/graph.svg: the network as
// a picture, profiles as circles on the outer ring, the identifiers they
// share as squares on the inner ring, a line for each use.
func (s *Server) networkGraph(w http.ResponseWriter, r *http.Request) {
	v, ok := s.networkView(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(graphSVG(v))
}

// Graph limits: beyond them the picture says how many it leaves out.
const (
	maxGraphProfiles    = 150
	maxGraphIdentifiers = 150
	maxLabel            = 28
)

// graphSVG draws v deterministically: profiles in id order on a circle,
// identifiers (shared ones first, capped ones dashed) on an inner circle.
// Every label is escaped; the SVG holds no script and loads nothing.
func graphSVG(v indexer.NetworkView) []byte {
	const size, cx, cy = 900.0, 450.0, 450.0
	profiles := v.Profiles
	if len(profiles) > maxGraphProfiles {
		profiles = profiles[:maxGraphProfiles]
	}
	ids := append(append([]indexer.Identifier{}, v.Identifiers...), v.Capped...)
	if len(ids) > maxGraphIdentifiers {
		ids = ids[:maxGraphIdentifiers]
	}
	type point struct{ x, y float64 }
	ring := func(i, n int, radius float64) point {
		if n == 1 && radius < 200 {
			return point{cx, cy}
		}
		a := 2*math.Pi*float64(i)/float64(n) - math.Pi/2
		return point{cx + radius*math.Cos(a), cy + radius*math.Sin(a)}
	}
	at := map[string]point{}
	for i, p := range profiles {
		at[p.ID] = ring(i, len(profiles), 340)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="11">`,
		size, size, size, size)
	fmt.Fprintf(&b, `<title>%s</title>`, label("Network "+v.ID))
	b.WriteString(`<g stroke="#999" stroke-width="1">`)
	idAt := make([]point, len(ids))
	for i, id := range ids {
		idAt[i] = ring(i, len(ids), 170)
		for _, p := range id.Profiles {
			if pp, ok := at[p]; ok {
				dash := ""
				if id.Capped {
					dash = ` stroke-dasharray="4 3"`
				}
				fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"%s/>`, idAt[i].x, idAt[i].y, pp.x, pp.y, dash)
			}
		}
	}
	b.WriteString(`</g>`)
	for i, id := range ids {
		fill := "#f0c040"
		if id.Capped {
			fill = "#ccc"
		}
		fmt.Fprintf(&b, `<g class="identifier"><rect x="%.1f" y="%.1f" width="10" height="10" fill="%s" stroke="#333"/>`, idAt[i].x-5, idAt[i].y-5, fill)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text></g>`, idAt[i].x, idAt[i].y-8, label(id.Value))
	}
	for _, p := range profiles {
		pt := at[p.ID]
		fmt.Fprintf(&b, `<g class="profile"><circle cx="%.1f" cy="%.1f" r="14" fill="#4a7bd0" stroke="#223"/>`, pt.x, pt.y)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`, pt.x, pt.y+26, label(p.ID))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#555">%s</text></g>`, pt.x, pt.y+39, label(fmt.Sprintf("%d ads", p.Ads)))
	}
	if left := len(v.Profiles) - len(profiles) + len(v.Identifiers) + len(v.Capped) - len(ids); left > 0 {
		fmt.Fprintf(&b, `<text x="10" y="%.0f">%s</text>`, size-10, label(fmt.Sprintf("%d more not drawn; see the list", left)))
	}
	b.WriteString(`</svg>`)
	return b.Bytes()
}

// label shortens s to maxLabel characters and escapes it for SVG text.
func label(s string) string {
	if utf8.RuneCountInString(s) > maxLabel {
		r := []rune(s)
		s = string(r[:maxLabel-1]) + "…"
	}
	return html.EscapeString(s)
}
