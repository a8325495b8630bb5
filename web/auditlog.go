package web

import (
	"encoding/csv"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/adwatch/adwatch/audit"
	"github.com/adwatch/adwatch/auth"
	"github.com/adwatch/adwatch/internal/bus"
)

// auditLog answers GET /api/audit?since=D&user=U[&format=csv]: the audit
// log, whole for an admin, and for a supervisor the entries of the
// casework roles (analysts, investigators, supervisors: the unit), never
// the administrators'.
func (s *Server) auditLog(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := audit.Filter{User: q.Get("user")}
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.DateOnly, v)
		if err != nil {
			if t, err = time.Parse(time.RFC3339, v); err != nil {
				writeErr(w, http.StatusBadRequest, "since: want a date (2026-01-31) or an RFC 3339 time")
				return
			}
		}
		f.Since = t
	}
	list, err := s.Audit.List(r.Context(), f)
	if err != nil {
		writeErr(w, http.StatusInternalServerError, err.Error())
		return
	}
	if !who(r).can(auth.PermAuditAll) {
		unit := []string{string(auth.Analyst), string(auth.Investigator), string(auth.Supervisor), ""}
		list = slices.DeleteFunc(list, func(e audit.Entry) bool { return !slices.Contains(unit, e.Role) })
	}
	if list == nil {
		list = []audit.Entry{}
	}
	if q.Get("format") != "csv" {
		writeJSON(w, http.StatusOK, list)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="adwatch-audit.csv"`)
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"seq", "at", "user", "role", "from", "action", "object", "query", "case", "outcome", "hash"})
	for _, e := range list {
		_ = cw.Write([]string{strconv.FormatUint(e.Seq, 10), e.At.Format(time.RFC3339), e.User, e.Role, e.From,
			e.Action, e.Object, e.Query, e.Case, e.Outcome, e.Hash})
	}
	cw.Flush()
}

// deadLetters lists what the pipeline gave up on: stage, error, subject,
// tries, size; never the content.
func (s *Server) deadLetters(w http.ResponseWriter, r *http.Request) {
	list, err := bus.ListDead(r.Context(), s.JS)
	if err != nil {
		writeErr(w, http.StatusInternalServerError, err.Error())
		return
	}
	if list == nil {
		list = []bus.DeadLetter{}
	}
	writeJSON(w, http.StatusOK, list)
}
