package web

import (
	"net/http"

	"github.com/adwatch/adwatch/alerts"
	"github.com/adwatch/adwatch/internal/record"
)

func (s *Server) alerts(w http.ResponseWriter, r *http.Request) {
	if s.Alerts == nil {
		writeJSON(w, http.StatusOK, []record.Alert{})
		return
	}
	list, err := alerts.List(r.Context(), s.Alerts)
	if err != nil {
		writeErr(w, http.StatusInternalServerError, err.Error())
		return
	}
	if list == nil {
		list = []record.Alert{}
	}
	writeJSON(w, http.StatusOK, list)
}

// StatusChange is the body of POST /api/alerts/{key}/status.
type StatusChange struct {
	Status string `json:"status"`
	By     string `json:"by"`
	Note   string `json:"note"`
}

func (s *Server) alertStatus(w http.ResponseWriter, r *http.Request) {
	if s.Alerts == nil {
		writeErr(w, http.StatusServiceUnavailable, "alerts need the message bus; run adwatch run")
		return
	}
	var c StatusChange
	if !decodeBody(w, r, &c) {
		return
	}
	a, err := alerts.SetStatus(r.Context(), s.Alerts, r.PathValue("key"), c.Status, c.By, c.Note)
	if err != nil {
		writeErr(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (s *Server) watchlist(w http.ResponseWriter, r *http.Request) {
	if s.Watchlist == nil {
		writeJSON(w, http.StatusOK, []alerts.WatchEntry{})
		return
	}
	list, err := alerts.Watchlist(r.Context(), s.Watchlist)
	if err != nil {
		writeErr(w, http.StatusInternalServerError, err.Error())
		return
	}
	if list == nil {
		list = []alerts.WatchEntry{}
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) addWatch(w http.ResponseWriter, r *http.Request) {
	if s.Watchlist == nil {
		writeErr(w, http.StatusServiceUnavailable, "the watchlist needs the message bus; run adwatch run")
		return
	}
	var e alerts.WatchEntry
	if isMultipart(r) {
		// A photo to watch: the "image" field, with "by" and "note".
		data, ok := readImage(w, r)
		if !ok {
			return
		}
		var err error
		e, err = alerts.WatchPhoto(data, s.Config.Extract.MaxImagePixels, r.FormValue("by"), r.FormValue("note"))
		if err != nil {
			writeErr(w, http.StatusBadRequest, err.Error())
			return
		}
	} else if !decodeBody(w, r, &e) {
		return
	}
	n, err := alerts.NormalizeWatch(e, s.Config.Region)
	if err != nil {
		writeErr(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := alerts.AddWatch(r.Context(), s.Watchlist, n); err != nil {
		writeErr(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, n)
}
