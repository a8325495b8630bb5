package cases

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/adwatch/adwatch/internal/bus/bustest"
)

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// newStore opens a store on a fresh embedded JetStream whose clock moves
// one second at each reading.
func newStore(t *testing.T) *Store {
	t.Helper()
	b := bustest.New(t)
	s, err := Open(t.Context(), b.JS, 1)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	now := t0
	s.Now = func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Second)
		return now
	}
	return s
}

func TestCheckNumber(t *testing.T) {
	for _, tc := range []struct {
		number string
		ok     bool
	}{
		{"2026-0042", true},
		{"OPD/24.117", true},
		{"a", true},
		{"case_7", true},
		{".", true},
		{"a/b/c", true},
		{"..", true},
		{strings.Repeat("9", 40), true},
		{"", false},
		{strings.Repeat("9", 41), false},
		{"2026 0042", false},
		{"2026*", false},
		{"2026>", false},
		{"a=b", false},
		{"nº1", false},
		{"é", false},
		{"a\nb", false},
		{"a:b", false},
	} {
		err := CheckNumber(tc.number)
		if tc.ok && err != nil {
			t.Errorf("CheckNumber(%q) = %v, want nil", tc.number, err)
		}
		if !tc.ok && !errors.Is(err, ErrBadNumber) {
			t.Errorf("CheckNumber(%q) = %v, want ErrBadNumber", tc.number, err)
		}
	}
}

func TestCreateGetList(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	if list, err := s.List(ctx); err != nil || list == nil || len(list) != 0 {
		t.Errorf("List of no cases = %v, %v; want [], nil", list, err)
	}
	// Numbers that escape to keys must neither collide nor be refused by
	// the bucket, whatever the position of '/' and '.'.
	numbers := []string{"2026-0042", "OPD/24.117", ".", "..", "/", "a.", ".a", "a/", "a2eb", "a.b", "A.B"}
	for _, n := range numbers {
		if _, err := s.Create(ctx, n, "Case "+n, "lee.k"); err != nil {
			t.Errorf("Create(%q): %v", n, err)
		}
	}
	for _, tc := range []struct {
		number, title, by string
		want              error
	}{
		{"2026-0042", "again", "lee.k", ErrExists},
		{"bad number", "", "lee.k", ErrBadNumber},
		{"2026-0043", "", "", ErrInvalid},
		{"2026-0043", strings.Repeat("t", MaxTitleLen+1), "lee.k", ErrInvalid},
		{"2026-0043", "two\nlines", "lee.k", ErrInvalid},
	} {
		if _, err := s.Create(ctx, tc.number, tc.title, tc.by); !errors.Is(err, tc.want) {
			t.Errorf("Create(%q, %q, %q) = %v, want %v", tc.number, tc.title, tc.by, err, tc.want)
		}
	}
	for _, n := range numbers {
		c, err := s.Get(ctx, n)
		if err != nil {
			t.Fatalf("Get(%q): %v", n, err)
		}
		if c.Number != n || c.Title != "Case "+n || c.CreatedBy != "lee.k" || c.Notes == nil || c.Profiles == nil {
			t.Errorf("Get(%q) = %+v", n, c)
		}
	}
	if _, err := s.Get(ctx, "2026-9999"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get of an unknown case = %v, want ErrNotFound", err)
	}

	// The most recently updated first.
	if _, err := s.AddNote(ctx, "a.b", "lee.k", "first contact with the site's operator"); err != nil {
		t.Fatal(err)
	}
	list, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range list {
		got = append(got, c.Number)
	}
	want := []string{"a.b"}
	for i := len(numbers) - 1; i >= 0; i-- {
		if numbers[i] != "a.b" {
			want = append(want, numbers[i])
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("List = %v, want %v", got, want)
	}
}

func TestMutations(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	const n = "2026-0042"
	if _, err := s.Create(ctx, n, "Oakland massage ads", "lee.k"); err != nil {
		t.Fatal(err)
	}
	steps := []func() (Case, error){
		func() (Case, error) { return s.AddProfile(ctx, n, "P1") },
		func() (Case, error) { return s.AddProfile(ctx, n, "P2") },
		func() (Case, error) { return s.AddProfile(ctx, n, "P1") },
		func() (Case, error) { return s.RemoveProfile(ctx, n, "P2") },
		func() (Case, error) { return s.RemoveProfile(ctx, n, "P9") },
		func() (Case, error) { return s.AddAd(ctx, n, "s:1") },
		func() (Case, error) { return s.AddAd(ctx, n, "s:2") },
		func() (Case, error) { return s.AddAd(ctx, n, " s:1 ") },
		func() (Case, error) { return s.RemoveAd(ctx, n, "s:2") },
		func() (Case, error) { return s.Assign(ctx, n, []string{"sam", "lee.k", "sam"}) },
		func() (Case, error) { return s.AddSearch(ctx, n, "lee.k", "+15108730123") },
		func() (Case, error) { return s.AddNote(ctx, n, "sam", "phone also in a 2025 case") },
		func() (Case, error) { return s.SetTitle(ctx, n, "Oakland and San Jose") },
		func() (Case, error) { return s.Close(ctx, n) },
	}
	for i, step := range steps {
		if _, err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	c, err := s.Get(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Profiles, []string{"P1"}) || !slices.Equal(c.Ads, []string{"s:1"}) ||
		!slices.Equal(c.Assignees, []string{"lee.k", "sam"}) || c.Title != "Oakland and San Jose" || !c.Closed {
		t.Errorf("case = %+v", c)
	}
	if len(c.Searches) != 1 || c.Searches[0].Query != "+15108730123" || c.Searches[0].By != "lee.k" {
		t.Errorf("searches = %+v", c.Searches)
	}
	if len(c.Notes) != 1 || c.Notes[0].By != "sam" || c.Notes[0].At.IsZero() {
		t.Errorf("notes = %+v", c.Notes)
	}

	// A change that changes nothing leaves Updated alone.
	again, err := s.Close(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Updated.Equal(c.Updated) {
		t.Errorf("closing a closed case moved Updated from %v to %v", c.Updated, again.Updated)
	}
	if c, err = s.Reopen(ctx, n); err != nil || c.Closed || !c.Updated.After(again.Updated) {
		t.Errorf("Reopen = %+v, %v", c, err)
	}
	if c, err = s.Assign(ctx, n, nil); err != nil || len(c.Assignees) != 0 {
		t.Errorf("Assign(nil) = %v, %v", c.Assignees, err)
	}

	for name, err := range map[string]error{
		"empty note":        second(s.AddNote(ctx, n, "lee.k", "  ")),
		"note by nobody":    second(s.AddNote(ctx, n, "", "text")),
		"overlong note":     second(s.AddNote(ctx, n, "lee.k", strings.Repeat("x", MaxTextLen+1))),
		"empty profile":     second(s.AddProfile(ctx, n, "")),
		"empty ad":          second(s.AddAd(ctx, n, "")),
		"empty assignee":    second(s.Assign(ctx, n, []string{"lee.k", ""})),
		"query with a NUL":  second(s.AddSearch(ctx, n, "lee.k", "a\x00b")),
		"two-line assignee": second(s.Assign(ctx, n, []string{"lee\nk"})),
	} {
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if _, err := s.AddNote(ctx, "2026-9999", "lee.k", "text"); !errors.Is(err, ErrNotFound) {
		t.Errorf("note on an unknown case: %v, want ErrNotFound", err)
	}
}

func second[T any](_ T, err error) error { return err }

// TestConcurrentNotes has several investigators write notes at once: every
// note is kept.
func TestConcurrentNotes(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	const n = "2026-0042"
	if _, err := s.Create(ctx, n, "", "lee.k"); err != nil {
		t.Fatal(err)
	}
	const writers, each = 6, 8
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if _, err := s.AddNote(ctx, n, fmt.Sprintf("inv%d", w), fmt.Sprintf("note %d of %d", i, w)); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	c, err := s.Get(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, note := range c.Notes {
		seen[note.By+"/"+note.Text] = true
	}
	if len(c.Notes) != writers*each || len(seen) != writers*each {
		t.Errorf("%d notes (%d distinct), want %d", len(c.Notes), len(seen), writers*each)
	}
}
