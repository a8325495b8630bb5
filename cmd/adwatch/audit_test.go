package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/adwatch/adwatch/audit"
	"github.com/adwatch/adwatch/internal/bus"
)

// withTrail appends entries to the audit trail of a new data dir, then
// lets it go, so that the commands open it as they would on disk.
func withTrail(t *testing.T, entries []audit.Entry, forge bool) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	owner, url, err := bus.Open(dir, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	token, err := bus.Token(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := bus.Connect(ctx, url, 1, bus.Credentials{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	l, err := audit.Open(ctx, b.JS, audit.MinRetention, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, err := l.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if forge {
		// An entry published around Append, without a hash.
		data, _ := json.Marshal(audit.Entry{At: time.Now().UTC(), User: "mallory", From: "cli", Action: audit.ActionLogin, Outcome: audit.OutcomeOK})
		if _, err := b.JS.Publish(ctx, audit.Subject, data); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func runAdwatch(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	root := newRoot()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(append([]string{"--config", "../../configs/adwatch.yaml", "--data", dir, "--no-sync"}, args...))
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

// TestAuditCommands lists a trail as a table and as JSON, filtered by user
// and time, and verifies an intact trail, a broken one and none at all.
func TestAuditCommands(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 3, d, 17, 0, 0, 0, time.UTC) }
	entries := []audit.Entry{
		{At: day(1), User: "jdoe", Role: "analyst", From: "10.0.0.7", Action: audit.ActionLogin, Outcome: audit.OutcomeOK},
		{At: day(2), User: "asmith", Role: "supervisor", From: "cli", Action: audit.ActionExport, Query: "city:Oakland\nforged line", Case: "2026-0042", Outcome: audit.OutcomeOK},
		{At: day(3), User: "jdoe", Role: "analyst", From: "10.0.0.7", Action: audit.ActionViewProfile, Object: "p-12ab", Outcome: audit.OutcomeDenied},
	}
	intact := withTrail(t, entries, false)
	broken := withTrail(t, entries[:1], true)
	for _, tc := range []struct {
		name    string
		dir     string
		args    []string
		want    []string // substrings of the output, or its lines when lines is set
		lines   int
		wantErr string
	}{
		{"table", intact, []string{"audit"}, []string{"SEQ", "2026-03-02 17:00:00", "asmith", `"city:Oakland\nforged line"`, "p-12ab", "denied"}, 4, ""},
		{"by user", intact, []string{"audit", "--user", "jdoe"}, []string{"login", "view_profile"}, 3, ""},
		{"since a day", intact, []string{"audit", "--since", "2026-03-02"}, []string{"export", "view_profile"}, 3, ""},
		{"since a time", intact, []string{"audit", "--since", "2026-03-03T16:00:00Z"}, []string{"view_profile"}, 2, ""},
		{"json", intact, []string{"audit", "--json", "--user", "asmith"}, []string{`"seq":2`, `"case":"2026-0042"`, `"hash":"`}, 1, ""},
		{"bad since", intact, []string{"audit", "--since", "yesterday"}, nil, 0, "want YYYY-MM-DD or an RFC 3339 time"},
		{"verify", intact, []string{"audit", "verify"}, []string{"3 entries, chain intact"}, 1, ""},
		{"verify broken", broken, []string{"audit", "verify"}, []string{"entry 2: edited"}, 1, "broken at entry 2"},
		{"no trail", t.TempDir(), []string{"audit", "verify"}, nil, 0, "does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runAdwatch(t, tc.dir, tc.args...)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("adwatch %s: %v, want error %q", strings.Join(tc.args, " "), err, tc.wantErr)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("adwatch %s prints\n%s\nwant %q in it", strings.Join(tc.args, " "), out, w)
				}
			}
			if got := strings.Count(out, "\n"); tc.lines > 0 && got != tc.lines {
				t.Errorf("adwatch %s prints %d lines, want %d:\n%s", strings.Join(tc.args, " "), got, tc.lines, out)
			}
		})
	}
}
