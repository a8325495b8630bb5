package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/adwatch/adwatch/internal/bus/bustest"
)

// testParams make hashing cheap; the tests are about the store, not the
// cost of argon2id.
var testParams = hashParams{time: 1, memory: 64, threads: 1}

// newStore opens a store on a fresh embedded JetStream.
func newStore(t *testing.T) *Store {
	t.Helper()
	b := bustest.New(t)
	s, err := Open(t.Context(), b.JS, 1)
	if err != nil {
		t.Fatal(err)
	}
	s.params = testParams
	return s
}

const goodPassword = "correct horse battery staple"

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func TestAddAndList(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	for _, tc := range []struct {
		name     string
		role     Role
		password string
		want     error
	}{
		{"lee.k", Investigator, goodPassword, nil},
		{"ana_1", Analyst, goodPassword, nil},
		{"sup-2", Supervisor, goodPassword, nil},
		{"root", Admin, goodPassword, nil},
		{"lee.k", Analyst, goodPassword, ErrExists},
		{"x", Analyst, goodPassword, ErrBadName},
		{"Lee", Analyst, goodPassword, ErrBadName},
		{"lee k", Analyst, goodPassword, ErrBadName},
		{"lée", Analyst, goodPassword, ErrBadName},
		{".lee", Analyst, goodPassword, ErrBadName},
		{"lee.", Analyst, goodPassword, ErrBadName},
		{"-lee", Analyst, goodPassword, ErrBadName},
		{"le..e", Analyst, goodPassword, ErrBadName},
		{"le*e", Analyst, goodPassword, ErrBadName},
		{"le>e", Analyst, goodPassword, ErrBadName},
		{strings.Repeat("a", 65), Analyst, goodPassword, ErrBadName},
		{"short", Analyst, "elevenchars", ErrWeakPassword},
		{"empty", Analyst, "", ErrWeakPassword},
		{"norole", "", goodPassword, ErrUnknownRole},
		{"god", "god", goodPassword, ErrUnknownRole},
	} {
		if err := s.Add(ctx, tc.name, tc.role, tc.password); !errors.Is(err, tc.want) {
			t.Errorf("Add(%q, %q) = %v, want %v", tc.name, tc.role, err, tc.want)
		}
	}
	if err := s.Add(ctx, strings.Repeat("a", 64), Analyst, goodPassword); err != nil {
		t.Errorf("a 64-character name: %v", err)
	}

	users, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range users {
		got = append(got, u.Name+":"+string(u.Role))
		if !strings.HasPrefix(u.PasswordHash, "$argon2id$") || strings.Contains(u.PasswordHash, goodPassword) {
			t.Errorf("user %s: password stored as %q, want an argon2id hash", u.Name, u.PasswordHash)
		}
		if u.Created.IsZero() || u.Disabled || len(u.Failed) > 0 {
			t.Errorf("new user %+v: want created, enabled, no failures", u)
		}
	}
	want := strings.Repeat("a", 64) + ":analyst ana_1:analyst lee.k:investigator root:admin sup-2:supervisor"
	if strings.Join(got, " ") != want {
		t.Errorf("List = %s\nwant %s", strings.Join(got, " "), want)
	}

	if _, err := s.Get(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(nobody) = %v, want ErrNotFound", err)
	}
	if err := s.Disable(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Disable(nobody) = %v, want ErrNotFound", err)
	}
	if err := s.Disable(ctx, "ana_1"); err != nil {
		t.Fatal(err)
	}
	if u, err := s.Get(ctx, "ana_1"); err != nil || !u.Disabled {
		t.Errorf("after Disable: %+v, %v; want disabled", u, err)
	}
}

func TestAuthenticate(t *testing.T) {
	const wrong = "not the password"
	type step struct {
		at       time.Duration // after t0
		password string
		want     error
	}
	for _, tc := range []struct {
		name     string
		user     string // "" is the scenario's own user
		disabled bool
		steps    []step
	}{
		{name: "right password", steps: []step{{0, goodPassword, nil}}},
		{name: "wrong password", steps: []step{{0, wrong, ErrBadCredentials}, {0, "", ErrBadCredentials}, {time.Second, goodPassword, nil}}},
		{name: "unknown user", user: "nobody", steps: []step{{0, goodPassword, ErrBadCredentials}}},
		{name: "invalid name", user: "No Body", steps: []step{{0, goodPassword, ErrBadCredentials}}},
		{name: "disabled", disabled: true, steps: []step{{0, goodPassword, ErrDisabled}, {0, wrong, ErrBadCredentials}}},
		{name: "lockout after 5 failures, unlocked 15 minutes later", steps: []step{
			{0, wrong, ErrBadCredentials},
			{time.Minute, wrong, ErrBadCredentials},
			{2 * time.Minute, wrong, ErrBadCredentials},
			{3 * time.Minute, wrong, ErrBadCredentials},
			{4 * time.Minute, wrong, ErrBadCredentials}, // the fifth: locked until 19m
			{5 * time.Minute, goodPassword, ErrLocked},
			{10 * time.Minute, wrong, ErrLocked},
			{19*time.Minute - time.Second, goodPassword, ErrLocked},
			{19 * time.Minute, goodPassword, nil},
			{20 * time.Minute, wrong, ErrBadCredentials}, // a fresh count
			{21 * time.Minute, goodPassword, nil},
		}},
		{name: "failures older than the window do not count", steps: []step{
			{0, wrong, ErrBadCredentials},
			{time.Minute, wrong, ErrBadCredentials},
			{2 * time.Minute, wrong, ErrBadCredentials},
			{3 * time.Minute, wrong, ErrBadCredentials},
			{16 * time.Minute, wrong, ErrBadCredentials}, // 0m and 1m have aged out
			{17 * time.Minute, goodPassword, nil},
		}},
		{name: "a success resets the count", steps: []step{
			{0, wrong, ErrBadCredentials}, {0, wrong, ErrBadCredentials}, {0, wrong, ErrBadCredentials}, {0, wrong, ErrBadCredentials},
			{time.Second, goodPassword, nil},
			{2 * time.Second, wrong, ErrBadCredentials},
			{3 * time.Second, goodPassword, nil},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			ctx := t.Context()
			if err := s.Add(ctx, "lee.k", Investigator, goodPassword); err != nil {
				t.Fatal(err)
			}
			if tc.disabled {
				if err := s.Disable(ctx, "lee.k"); err != nil {
					t.Fatal(err)
				}
			}
			name := tc.user
			if name == "" {
				name = "lee.k"
			}
			for i, st := range tc.steps {
				u, err := s.Authenticate(ctx, name, st.password, t0.Add(st.at))
				if !errors.Is(err, st.want) {
					t.Fatalf("step %d (at %v): Authenticate = %v, want %v", i, st.at, err, st.want)
				}
				if err == nil && (u.Name != name || u.Role != Investigator) {
					t.Errorf("step %d: user %+v", i, u)
				}
				if err != nil && u.Name != "" {
					t.Errorf("step %d: a failed login returned user %q", i, u.Name)
				}
			}
		})
	}
}

// TestConcurrentFailuresAllCount checks that failed logins at the same
// moment are all recorded: five at once lock the account.
func TestConcurrentFailuresAllCount(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	if err := s.Add(ctx, "lee.k", Investigator, goodPassword); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, MaxFailedLogins)
	for i := range errs {
		wg.Go(func() { _, errs[i] = s.Authenticate(ctx, "lee.k", fmt.Sprint("guess number ", i), t0) })
	}
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, ErrBadCredentials) {
			t.Errorf("guess %d: %v, want ErrBadCredentials", i, err)
		}
	}
	if _, err := s.Authenticate(ctx, "lee.k", goodPassword, t0.Add(time.Second)); !errors.Is(err, ErrLocked) {
		t.Errorf("after %d concurrent failures: %v, want ErrLocked", MaxFailedLogins, err)
	}
}

// TestUnknownUserCostsAHash checks that a login as nobody takes about as
// long as a wrong password for someone, so timing does not tell which
// names exist.
func TestUnknownUserCostsAHash(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	s.params = hashParams{time: 2, memory: 8 * 1024, threads: 1} // slow enough to dominate a KV read
	if err := s.Add(ctx, "lee.k", Investigator, goodPassword); err != nil {
		t.Fatal(err)
	}
	_, _ = s.Authenticate(ctx, "nobody", "wrong password", t0) // makes the dummy hash once
	// Interleaved, the fastest of several of each: a busy machine slows
	// both alike.
	unknown, known := time.Hour, time.Hour
	for i := range 5 {
		for _, name := range []string{"nobody", "lee.k"} {
			start := time.Now()
			_, _ = s.Authenticate(ctx, name, "wrong password", t0.Add(time.Duration(i)*time.Hour))
			if d := time.Since(start); name == "nobody" {
				unknown = min(unknown, d)
			} else {
				known = min(known, d)
			}
		}
	}
	if unknown < known/3 || known < unknown/3 {
		t.Errorf("unknown user %v, wrong password %v: want them alike", unknown, known)
	}
}

func TestSetPassword(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	if err := s.Add(ctx, "lee.k", Investigator, goodPassword); err != nil {
		t.Fatal(err)
	}
	for i := range MaxFailedLogins {
		_, _ = s.Authenticate(ctx, "lee.k", "wrong password", t0.Add(time.Duration(i)*time.Second))
	}
	if _, err := s.Authenticate(ctx, "lee.k", goodPassword, t0.Add(time.Minute)); !errors.Is(err, ErrLocked) {
		t.Fatalf("after %d failures: %v, want ErrLocked", MaxFailedLogins, err)
	}
	const newPassword = "a new and longer passphrase"
	for _, tc := range []struct {
		name, password string
		want           error
	}{
		{"lee.k", "too short", ErrWeakPassword},
		{"nobody", newPassword, ErrNotFound},
		{"Nobody", newPassword, ErrBadName},
		{"lee.k", newPassword, nil},
	} {
		if err := s.SetPassword(ctx, tc.name, tc.password); !errors.Is(err, tc.want) {
			t.Errorf("SetPassword(%q, %q) = %v, want %v", tc.name, tc.password, err, tc.want)
		}
	}
	at := t0.Add(2 * time.Minute) // still within the lockout: a new password lifts it
	if _, err := s.Authenticate(ctx, "lee.k", goodPassword, at); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("old password: %v, want ErrBadCredentials", err)
	}
	if _, err := s.Authenticate(ctx, "lee.k", newPassword, at); err != nil {
		t.Errorf("new password: %v", err)
	}
}

func TestOpenTwice(t *testing.T) {
	b := bustest.New(t)
	ctx := context.Background()
	for range 2 {
		if _, err := Open(ctx, b.JS, 1); err != nil {
			t.Fatal(err)
		}
	}
}
