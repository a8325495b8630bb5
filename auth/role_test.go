package auth

import (
	"errors"
	"strings"
	"testing"
)

func TestRoleCan(t *testing.T) {
	// The matrix written out once more, independently of the table: each
	// role and every permission it has.
	want := map[Role]string{
		Analyst:      "trends alert-summaries",
		Investigator: "trends alert-summaries search profiles ads photos networks cases export watchlist alert-triage",
		Supervisor:   "trends alert-summaries search profiles ads photos networks cases export watchlist alert-triage assign audit-unit dead-letters",
		Admin:        "users rules units audit-all dead-letters",
		"":           "",
		"root":       "",
	}
	for role, perms := range want {
		has := map[Permission]bool{}
		for p := range strings.FieldsSeq(perms) {
			has[Permission(p)] = true
		}
		for _, p := range Permissions() {
			if got := role.Can(p); got != has[p] {
				t.Errorf("Role(%q).Can(%s) = %v, want %v", role, p, got, has[p])
			}
			delete(has, p)
		}
		for p := range has {
			t.Errorf("the test names permission %q, which Permissions() does not list", p)
		}
		if role.Can("anything") {
			t.Errorf("Role(%q).Can(unknown permission) = true", role)
		}
	}
	if len(Permissions()) != 18 {
		t.Errorf("%d permissions, want 18", len(Permissions()))
	}
}

func TestParseRole(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Role
		wantErr bool
	}{
		{"analyst", Analyst, false},
		{"investigator", Investigator, false},
		{"supervisor", Supervisor, false},
		{"admin", Admin, false},
		{"Admin", "", true},
		{"", "", true},
		{"root", "", true},
	} {
		got, err := ParseRole(tc.in)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("ParseRole(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
		if err != nil && (!errors.Is(err, ErrUnknownRole) || !strings.Contains(err.Error(), "analyst, investigator")) {
			t.Errorf("ParseRole(%q) error %q: want ErrUnknownRole naming the roles", tc.in, err)
		}
	}
}
