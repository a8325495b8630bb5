package web

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/adwatch/adwatch/alerts"
	"github.com/adwatch/adwatch/audit"
	"github.com/adwatch/adwatch/auth"
	"github.com/adwatch/adwatch/internal/record"
)

// AlertSummary is what a role without alert triage sees of the alerts:
// how many of each rule, city and status, never who.
type AlertSummary struct {
	Rule     string `json:"rule"`
	Severity string `json:"severity"`
	// City is the first city of the alert's evidence.
	City   string `json:"city,omitempty"`
	Status string `json:"status"`
	Count  int    `json:"count"`
}

// alerts lists the alerts in full for a role that triages them, and as
// counts (AlertSummary) for one that does not. Filters: ?status=, rule=,
// city=, unit= (the unit's cities, rules and severity), assignee=,
// profile=; paging: ?offset=&limit= (the total before paging is in the
// X-Total-Count header).
func (s *Server) alerts(w http.ResponseWriter, r *http.Request) {
	list, err := alerts.List(r.Context(), s.JS, s.Alerts)
	if err != nil {
		writeErr(w, http.StatusInternalServerError, err.Error())
		return
	}
	q := r.URL.Query()
	var unit *alerts.Unit
	if name := q.Get("unit"); name != "" {
		for i := range s.Units {
			if strings.EqualFold(s.Units[i].Name, name) {
				unit = &s.Units[i]
			}
		}
		if unit == nil {
			writeErr(w, http.StatusBadRequest, "unit: no unit called "+name+" in the alerts file")
			return
		}
	}
	list = slices.DeleteFunc(list, func(a record.Alert) bool {
		return (q.Has("status") && a.Status != q.Get("status")) ||
			(q.Has("rule") && a.Rule != q.Get("rule")) ||
			(q.Has("city") && !slices.ContainsFunc(a.Cities, func(c string) bool { return strings.EqualFold(c, q.Get("city")) })) ||
			(q.Has("assignee") && a.Assignee != q.Get("assignee")) ||
			(q.Has("profile") && !slices.Contains(a.Profiles, q.Get("profile"))) ||
			(unit != nil && !unit.Wants(&a))
	})
	if !who(r).can(auth.PermAlertTriage) {
		writeJSON(w, http.StatusOK, summarize(list))
		return
	}
	w.Header().Set("X-Total-Count", strconv.Itoa(len(list)))
	offset, _ := strconv.Atoi(q.Get("offset"))
	limit, err := strconv.Atoi(q.Get("limit"))
	if err != nil || limit <= 0 {
		limit = len(list)
	}
	offset = min(max(offset, 0), len(list))
	list = list[offset:min(offset+limit, len(list))]
	if list == nil {
		list = []record.Alert{}
	}
	writeJSON(w, http.StatusOK, list)
}

// alert answers one alert with its evidence and history.
func (s *Server) alert(w http.ResponseWriter, r *http.Request) {
	a, err := alerts.Get(r.Context(), s.JS, s.Alerts, r.PathValue("key"))
	writeAlert(w, a, err, http.StatusInternalServerError)
}

// writeAlert answers an alert, 404 for ErrNoAlert, or code for another
// error.
func writeAlert(w http.ResponseWriter, a *record.Alert, err error, code int) {
	switch {
	case errors.Is(err, alerts.ErrNoAlert):
		writeErr(w, http.StatusNotFound, err.Error())
	case err != nil:
		writeErr(w, code, err.Error())
	default:
		writeJSON(w, http.StatusOK, a)
	}
}

// Assignment is the body of POST /api/alerts/{key}/assign.
type Assignment struct {
	// Assignee is the investigator's user name; empty unassigns.
	Assignee string `json:"assignee"`
	Note     string `json:"note"`
}

// assignAlert gives an alert to an investigator (supervisors; audited).
func (s *Server) assignAlert(w http.ResponseWriter, r *http.Request) {
	var as Assignment
	if !decodeBody(w, r, &as) {
		return
	}
	key := r.PathValue("key")
	if as.Assignee != "" {
		u, err := s.Users.Get(r.Context(), as.Assignee)
		if err != nil || u.Disabled || !u.Role.Can(auth.PermAlertTriage) {
			writeErr(w, http.StatusBadRequest, "assignee: no active investigator called "+as.Assignee)
			return
		}
	}
	a, err := alerts.Assign(r.Context(), s.JS, s.Alerts, key, as.Assignee, who(r).User, as.Note)
	s.auditChange(r, audit.ActionAlertStatus, key, "assign "+as.Assignee, err)
	writeAlert(w, a, err, http.StatusInternalServerError)
}

// summarize counts alerts by rule, severity, city and status.
func summarize(list []record.Alert) []AlertSummary {
	idx := map[AlertSummary]int{}
	out := []AlertSummary{}
	for _, a := range list {
		k := AlertSummary{Rule: a.Rule, Severity: a.Severity, Status: a.Status}
		if len(a.Cities) > 0 {
			k.City = a.Cities[0]
		}
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, k)
		}
		out[i].Count++
	}
	return out
}

// StatusChange is the body of POST /api/alerts/{key}/status. The change
// is recorded under the logged-in user's name.
type StatusChange struct {
	Status string `json:"status"`
	Note   string `json:"note"`
}

func (s *Server) alertStatus(w http.ResponseWriter, r *http.Request) {
	var c StatusChange
	if !decodeBody(w, r, &c) {
		return
	}
	key := r.PathValue("key")
	a, err := alerts.SetStatus(r.Context(), s.JS, s.Alerts, key, c.Status, who(r).User, c.Note)
	s.auditChange(r, audit.ActionAlertStatus, key, c.Status, err)
	writeAlert(w, a, err, http.StatusBadRequest)
}

func (s *Server) watchlist(w http.ResponseWriter, r *http.Request) {
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

// addWatch adds a watchlist entry under the logged-in user's name.
func (s *Server) addWatch(w http.ResponseWriter, r *http.Request) {
	by := who(r).User
	var e alerts.WatchEntry
	if isMultipart(r) {
		// A photo to watch: the "image" field, with "by" and "note".
		data, ok := readImage(w, r)
		if !ok {
			return
		}
		var err error
		e, err = alerts.WatchPhoto(data, s.Config.Extract.MaxImagePixels, by, r.FormValue("note"))
		if err != nil {
			writeErr(w, http.StatusBadRequest, err.Error())
			return
		}
	} else if !decodeBody(w, r, &e) {
		return
	}
	e.By = by
	n, err := alerts.NormalizeWatch(e, s.Config.Region)
	if err != nil {
		writeErr(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := s.audit(r, audit.ActionWatchlistAdd, audit.OutcomeOK, n.Kind, n.Value); err != nil {
		s.Log.Error("writing the audit log; watchlist entry refused", "err", err)
		writeErr(w, http.StatusServiceUnavailable, "the audit log cannot be written; no change until it can")
		return
	}
	if err := alerts.AddWatch(r.Context(), s.Watchlist, n); err != nil {
		writeErr(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, n)
}

// removeWatch removes a watchlist entry (?kind=&value=, as listed).
func (s *Server) removeWatch(w http.ResponseWriter, r *http.Request) {
	e := alerts.WatchEntry{Kind: r.URL.Query().Get("kind"), Value: r.URL.Query().Get("value")}
	if e.Kind == "" || e.Value == "" {
		writeErr(w, http.StatusBadRequest, "want ?kind=&value= of the entry")
		return
	}
	if err := s.audit(r, audit.ActionWatchlistRemove, audit.OutcomeOK, e.Kind, e.Value); err != nil {
		s.Log.Error("writing the audit log; watchlist change refused", "err", err)
		writeErr(w, http.StatusServiceUnavailable, "the audit log cannot be written; no change until it can")
		return
	}
	err := alerts.RemoveWatch(r.Context(), s.Watchlist, e)
	if errors.Is(err, alerts.ErrNoWatch) {
		writeErr(w, http.StatusNotFound, err.Error())
		return
	}
	if err != nil {
		writeErr(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "removed"})
}
