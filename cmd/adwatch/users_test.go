package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/adwatch/adwatch/audit"
)

// TestUserCommands runs the user commands through cobra on one data dir
// with the embedded server, in order.
func TestUserCommands(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "http://127.0.0.1:1", "")
	data := filepath.Join(dir, "data")
	const password = "correct horse battery staple"
	for _, tc := range []struct {
		args    string
		in      string
		want    string // in the output
		wantErr string // in the error
	}{
		{args: "user add lee.k --role investigator --password-stdin", in: password + "\n", want: "added lee.k (investigator)\n"},
		{args: "user add ana --role analyst --password-stdin", in: password + "\r\n", want: "added ana (analyst)\n"},
		{args: "user add lee.k --role analyst --password-stdin", in: password + "\n", wantErr: "user exists"},
		{args: "user add bob --role god --password-stdin", in: password + "\n", wantErr: `unknown role "god"`},
		{args: "user add bob --password-stdin", in: password + "\n", wantErr: `"role" not set`},
		{args: "user add Bob --role analyst --password-stdin", in: password + "\n", wantErr: "user name not allowed"},
		{args: "user add bob --role analyst --password-stdin", in: "too short\n", wantErr: "at least 12"},
		{args: "user add bob --role analyst --password-stdin", in: "", wantErr: "no password on standard input"},
		{args: "user add bob --role analyst", in: password + "\n", wantErr: "--password-stdin"},
		{args: "user add demo --role investigator --generate-password", want: "added demo (investigator)\npassword: "},
		{args: "user add demo2 --role investigator --generate-password --password-stdin", in: password + "\n", wantErr: "none of the others can be"},
		{args: "user list", want: "NAME   ROLE          DISABLED  LOCKED\nana    analyst       no        no\ndemo   investigator  no        no\nlee.k  investigator  no        no\n"},
		{args: "user disable ana", want: "disabled ana\n"},
		{args: "user disable nobody", wantErr: "no such user"},
		{args: "user passwd lee.k --password-stdin", in: "another long passphrase\n", want: "set the password of lee.k\n"},
		{args: "user passwd nobody --password-stdin", in: "another long passphrase\n", wantErr: "no such user"},
		{args: "user list", want: "ana    analyst       yes       no\ndemo   investigator  no        no\nlee.k  investigator  no        no\n"},
	} {
		root := newRoot()
		var out, errOut bytes.Buffer
		root.SetIn(strings.NewReader(tc.in))
		root.SetOut(&out)
		root.SetErr(&errOut)
		root.SetArgs(append([]string{"--config", cfg, "--data", data, "--no-sync"}, strings.Fields(tc.args)...))
		err := root.Execute()
		switch {
		case tc.wantErr == "" && err != nil:
			t.Fatalf("%s: %v\n%s", tc.args, err, errOut.String())
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: error %v, want one saying %q", tc.args, err, tc.wantErr)
		}
		if !strings.Contains(out.String(), tc.want) {
			t.Errorf("%s: printed\n%s\nwant it to contain\n%s", tc.args, out.String(), tc.want)
		}
		for _, secret := range []string{password, "another long passphrase", "too short"} {
			if strings.Contains(out.String()+errOut.String(), secret) || err != nil && strings.Contains(err.Error(), secret) {
				t.Errorf("%s: a password was printed:\n%s%s", tc.args, out.String(), errOut.String())
			}
		}
	}
	// Every account change that reached the store is in the audit log,
	// with its outcome.
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"--config", cfg, "--data", data, "--no-sync", "audit", "--json"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	var ok, failed int
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var e audit.Entry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("audit --json line %q: %v", line, err)
		}
		if e.Action != audit.ActionUserChange || e.From != "cli" || !strings.HasPrefix(e.User, "os:") {
			t.Errorf("entry %+v", e)
		}
		switch e.Outcome {
		case audit.OutcomeOK:
			ok++
		case audit.OutcomeFailed:
			failed++
		}
	}
	if ok != 5 || failed != 4 {
		t.Errorf("audit: %d changes and %d failed ones, want 5 and 4:\n%s", ok, failed, out.String())
	}
}
