package web

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/adwatch/adwatch/audit"
	"github.com/adwatch/adwatch/auth"
	"github.com/adwatch/adwatch/cases"
)

// TestCaseWork: an investigator opens a case, adds a profile and a note,
// cannot assign it (a supervisor can), and downloads its export; every
// change and the export are in the audit log.
func TestCaseWork(t *testing.T) {
	ts := testServer(t)
	send := func(c *http.Client, method, path, body string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, data
	}
	// A number with a slash travels escaped in the path.
	const number, path = "OPD/26-117", "/api/cases/OPD%2F26-117"
	if code, body := send(ts.c, "POST", "/api/cases", `{"number":"`+number+`","title":"Circuit through Oakland"}`); code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	if code, _ := send(ts.c, "POST", "/api/cases", `{"number":"`+number+`"}`); code != http.StatusConflict {
		t.Errorf("the same number twice: %d, want 409", code)
	}
	resp, err := ts.c.Get(ts.URL + "/api/search?q=5108730123")
	if err != nil {
		t.Fatal(err)
	}
	var res SearchResult
	_ = json.NewDecoder(resp.Body).Decode(&res)
	resp.Body.Close()
	if len(res.Profiles) != 1 {
		t.Fatalf("search: %+v", res)
	}
	for _, ch := range []string{`{"op":"add_profile","id":"` + res.Profiles[0] + `"}`, `{"op":"note","text":"same phone in two cities"}`} {
		if code, body := send(ts.c, "POST", path, ch); code != http.StatusOK {
			t.Errorf("%s: %d %s", ch, code, body)
		}
	}
	if code, _ := send(ts.c, "POST", path, `{"op":"assign","assignees":["ivy"]}`); code != http.StatusForbidden {
		t.Errorf("an investigator assigns: %d, want 403", code)
	}
	code, body := send(ts.as(t, auth.Supervisor), "POST", path, `{"op":"assign","assignees":["ivy"]}`)
	var c cases.Case
	_ = json.Unmarshal(body, &c)
	if code != http.StatusOK || !slices.Equal(c.Assignees, []string{"ivy"}) || len(c.Notes) != 1 || c.Notes[0].By != "ivy" || len(c.Profiles) != 1 {
		t.Errorf("case after the changes: %d %+v", code, c)
	}
	code, body = send(ts.c, "GET", path+"/export", "")
	if code != http.StatusOK {
		t.Fatalf("export: %d %s", code, body)
	}
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatalf("export is not a zip: %v", err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	for _, want := range []string{"case.json", "ads.csv", "profiles.json", "manifest.json"} {
		if !slices.Contains(names, want) {
			t.Errorf("export lacks %s: %v", want, names)
		}
	}
	var changes, exports int
	for _, e := range ts.entries(t) {
		if e.Object == number && e.Action == audit.ActionCaseChange {
			changes++
		}
		if e.Object == number && e.Action == audit.ActionExport && e.User == "ivy" {
			exports++
		}
	}
	// create, create again (failed), add_profile, note, assign (denied), assign.
	if changes != 6 || exports != 1 {
		t.Errorf("audit: %d case changes and %d exports, want 6 and 1", changes, exports)
	}
}
