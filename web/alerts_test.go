package web

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/adwatch/adwatch/alerts"
	"github.com/adwatch/adwatch/audit"
	"github.com/adwatch/adwatch/auth"
	"github.com/adwatch/adwatch/internal/record"
)

// TestAlertInbox: filters and paging answer the right alerts and total; a
// supervisor assigns an alert to an investigator (not to an analyst), the
// investigator notes a status change, and both are in the alert's
// history and the audit log.
func TestAlertInbox(t *testing.T) {
	ts := serve(t, openIndex(t), nil)
	ts.srv.Units = []alerts.Unit{{Name: "oakland-vice", Cities: []string{"Oakland"}}}
	for i, a := range []record.Alert{
		{Key: "possible_minor.p1", Rule: "possible_minor", Severity: "critical", Entity: "profile:P1", Status: record.StatusNew, Cities: []string{"Oakland"}, Profiles: []string{"P1"}},
		{Key: "shared_phone.x", Rule: "shared_phone", Severity: "high", Entity: "phone:+15108730123", Status: record.StatusNew, Cities: []string{"San Jose"}, Profiles: []string{"P2", "P3", "P4"}},
		{Key: "circuit.p5", Rule: "circuit", Severity: "medium", Entity: "profile:P5", Status: record.StatusDismissed, Cities: []string{"Oakland", "Fresno"}, Profiles: []string{"P5"}},
	} {
		data, _ := json.Marshal(a)
		if _, err := ts.b.Alerts.Put(context.Background(), a.Key, data); err != nil {
			t.Fatal(i, err)
		}
	}
	list := func(c *http.Client, q string) ([]record.Alert, string) {
		t.Helper()
		resp, err := c.Get(ts.URL + "/api/alerts?" + q)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out []record.Alert
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return out, resp.Header.Get("X-Total-Count")
	}
	for _, tc := range []struct {
		q     string
		keys  string
		total string
	}{
		{"", "possible_minor.p1 shared_phone.x circuit.p5", "3"},
		{"status=new", "possible_minor.p1 shared_phone.x", "2"},
		{"city=oakland", "possible_minor.p1 circuit.p5", "2"},
		{"unit=oakland-vice&status=new", "possible_minor.p1", "1"},
		{"rule=shared_phone", "shared_phone.x", "1"},
		{"profile=P5", "circuit.p5", "1"},
		{"offset=1&limit=1", "shared_phone.x", "3"},
	} {
		got, total := list(ts.c, tc.q)
		var keys []string
		for _, a := range got {
			keys = append(keys, a.Key)
		}
		if strings.Join(keys, " ") != tc.keys || total != tc.total {
			t.Errorf("?%s: %v (total %s), want %s (total %s)", tc.q, keys, total, tc.keys, tc.total)
		}
	}
	post := func(c *http.Client, path, body string) int {
		t.Helper()
		resp, err := c.Post(ts.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	sup := ts.as(t, auth.Supervisor)
	if code := post(sup, "/api/alerts/possible_minor.p1/assign", `{"assignee":"ana"}`); code != http.StatusBadRequest {
		t.Errorf("assigning to an analyst: %d, want 400", code)
	}
	if code := post(sup, "/api/alerts/possible_minor.p1/assign", `{"assignee":"ivy","note":"yours"}`); code != http.StatusOK {
		t.Errorf("assigning: %d", code)
	}
	if code := post(ts.c, "/api/alerts/possible_minor.p1/status", `{"status":"escalated","note":"sent to the DA"}`); code != http.StatusOK {
		t.Errorf("escalating: %d", code)
	}
	if code := post(ts.c, "/api/alerts/nope/status", `{"status":"escalated"}`); code != http.StatusNotFound {
		t.Errorf("an unknown alert: %d, want 404", code)
	}
	got, _ := list(ts.c, "assignee=ivy")
	if len(got) != 1 || got[0].Status != record.StatusEscalated || len(got[0].History) != 2 ||
		got[0].History[0].Assigned != "ivy" || got[0].History[0].By != "sam" || got[0].History[1].Note != "sent to the DA" {
		t.Errorf("assigned alert: %+v", got)
	}
	var changes int
	for _, e := range ts.entries(t) {
		if e.Action == audit.ActionAlertStatus && e.Object == "possible_minor.p1" && e.Outcome == audit.OutcomeOK {
			changes++
		}
	}
	if changes != 2 {
		t.Errorf("%d alert changes audited, want 2 (the assignment and the escalation)", changes)
	}
}
