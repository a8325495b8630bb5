package web

import (
	"bufio"
	"encoding/json"
	"net/http"

	"github.com/adwatch/adwatch/report"
)

func (s *Server) snapshot(w http.ResponseWriter, r *http.Request) {
	city, date := r.URL.Query().Get("city"), r.URL.Query().Get("date")
	if _, _, err := report.Window(s.Config, city, date); err != nil {
		writeErr(w, http.StatusBadRequest, err.Error())
		return
	}
	snap, err := report.TakeSnapshot(s.Config, s.Index, city, date)
	if err != nil {
		writeErr(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, snap)
}

// exportAds streams the ads as JSON lines (?city=&since=&until=), what
// adwatch export ads prints.
func (s *Server) exportAds(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f, err := report.ParseFilter(q.Get("city"), q.Get("since"), q.Get("until"))
	if err != nil {
		writeErr(w, http.StatusBadRequest, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	if err := report.ExportAds(s.Index, f, func(a report.ExportedAd) error { return enc.Encode(a) }); err != nil {
		// Headers are gone: end the stream with an error line, which no
		// ad line has (see Client.ExportAds).
		_ = enc.Encode(exportError{Err: err.Error()})
	}
	_ = bw.Flush()
}

// trends answers /api/trends?city=C[&city=C2]&from=D&to=D[&format=csv]:
// ads, profiles and phones per local day of each city, as JSON or as CSV
// (header date,city,ads,profiles,phones).
func (s *Server) trends(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	rows, err := report.Trends(r.Context(), &report.Local{Config: s.Config, Index: s.Index}, q["city"], q.Get("from"), q.Get("to"))
	if err != nil {
		writeErr(w, http.StatusBadRequest, err.Error())
		return
	}
	switch q.Get("format") {
	case "", "json":
		writeJSON(w, http.StatusOK, rows)
	case "csv":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="adwatch-trends.csv"`)
		_ = report.WriteTrendCSV(w, rows)
	default:
		writeErr(w, http.StatusBadRequest, "format: want json or csv")
	}
}
