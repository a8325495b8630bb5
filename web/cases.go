package web

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/adwatch/adwatch/audit"
	"github.com/adwatch/adwatch/auth"
	"github.com/adwatch/adwatch/cases"
)

// NewCase is the body of POST /api/cases.
type NewCase struct {
	Number string `json:"number"`
	Title  string `json:"title"`
}

// CaseChange is the body of POST /api/cases/{number}: one change to a
// case. Op is one of note, add_profile, remove_profile, add_ad,
// remove_ad, add_search, title, assign (supervisors), close, reopen.
type CaseChange struct {
	Op        string   `json:"op"`
	Text      string   `json:"text,omitempty"`
	ID        string   `json:"id,omitempty"`
	Assignees []string `json:"assignees,omitempty"`
}

// caseError answers a store error: 404 for an unknown case, 409 for a
// number taken, 400 for bad input.
func caseError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, cases.ErrNotFound):
		writeErr(w, http.StatusNotFound, err.Error())
	case errors.Is(err, cases.ErrExists):
		writeErr(w, http.StatusConflict, err.Error())
	case errors.Is(err, cases.ErrBadNumber), errors.Is(err, cases.ErrInvalid):
		writeErr(w, http.StatusBadRequest, err.Error())
	default:
		writeErr(w, http.StatusInternalServerError, err.Error())
	}
}

func (s *Server) listCases(w http.ResponseWriter, r *http.Request) {
	list, err := s.Cases.List(r.Context())
	if err != nil {
		caseError(w, err)
		return
	}
	if list == nil {
		list = []cases.Case{}
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) getCase(w http.ResponseWriter, r *http.Request) {
	c, err := s.Cases.Get(r.Context(), r.PathValue("number"))
	if err != nil {
		caseError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

// createCase opens a case under the logged-in name (audited).
func (s *Server) createCase(w http.ResponseWriter, r *http.Request) {
	var n NewCase
	if !decodeBody(w, r, &n) {
		return
	}
	c, err := s.Cases.Create(r.Context(), n.Number, n.Title, who(r).User)
	s.auditChange(r, audit.ActionCaseChange, n.Number, "create", err)
	if err != nil {
		caseError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, c)
}

// changeCase applies one CaseChange under the logged-in name (audited).
func (s *Server) changeCase(w http.ResponseWriter, r *http.Request) {
	var ch CaseChange
	if !decodeBody(w, r, &ch) {
		return
	}
	ctx, number, by := r.Context(), r.PathValue("number"), who(r).User
	var c cases.Case
	var err error
	switch ch.Op {
	case "note":
		c, err = s.Cases.AddNote(ctx, number, by, ch.Text)
	case "add_profile":
		c, err = s.Cases.AddProfile(ctx, number, ch.ID)
	case "remove_profile":
		c, err = s.Cases.RemoveProfile(ctx, number, ch.ID)
	case "add_ad":
		c, err = s.Cases.AddAd(ctx, number, ch.ID)
	case "remove_ad":
		c, err = s.Cases.RemoveAd(ctx, number, ch.ID)
	case "add_search":
		c, err = s.Cases.AddSearch(ctx, number, by, ch.Text)
	case "title":
		c, err = s.Cases.SetTitle(ctx, number, ch.Text)
	case "assign":
		if !who(r).can(auth.PermAssign) {
			s.auditChange(r, audit.ActionCaseChange, number, "assign", errDenied)
			writeErr(w, http.StatusForbidden, "only a supervisor assigns cases")
			return
		}
		c, err = s.Cases.Assign(ctx, number, ch.Assignees)
	case "close":
		c, err = s.Cases.Close(ctx, number)
	case "reopen":
		c, err = s.Cases.Reopen(ctx, number)
	default:
		writeErr(w, http.StatusBadRequest, fmt.Sprintf("op %q: want note, add_profile, remove_profile, add_ad, remove_ad, add_search, title, assign, close or reopen", ch.Op))
		return
	}
	s.auditChange(r, audit.ActionCaseChange, number, ch.Op+" "+ch.ID, err)
	if err != nil {
		caseError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

// exportCase answers one zip of the case: its ads and profiles in CSV and
// JSON, the images, and a manifest with every file's SHA-256 (audited
// before it is written).
func (s *Server) exportCase(w http.ResponseWriter, r *http.Request) {
	number := r.PathValue("number")
	c, err := s.Cases.Get(r.Context(), number)
	if err != nil {
		caseError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="adwatch-case-%s.zip"`, safeFileName(number)))
	src := &cases.Local{Index: s.Index, Images: s.Images}
	if _, err := cases.Export(r.Context(), w, c, src, who(r).User, s.now()); err != nil {
		// The zip is cut short: its manifest is missing, which any reader
		// sees.
		s.Log.Error("exporting a case", "err", err)
	}
}

// safeFileName keeps letters, digits, '-' and '_' of a case number.
func safeFileName(s string) string {
	out := []rune{}
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			out = append(out, r)
		} else {
			out = append(out, '_')
		}
	}
	return string(out)
}

// errDenied marks a change refused for the role, for the audit log.
var errDenied = errors.New("denied")

// auditChange writes the entry of a change with its outcome.
func (s *Server) auditChange(r *http.Request, action, object, query string, err error) {
	outcome := audit.OutcomeOK
	switch {
	case errors.Is(err, errDenied):
		outcome = audit.OutcomeDenied
	case err != nil:
		outcome = audit.OutcomeFailed
	}
	if aerr := s.audit(r, action, outcome, object, query); aerr != nil {
		s.Log.Error("writing the audit log", "err", aerr)
	}
}
