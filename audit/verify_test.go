package audit

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// chained returns n valid entries with sequences 1..n.
func chained(t *testing.T, n int) []Entry {
	t.Helper()
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	var out []Entry
	prev := ""
	for i := range n {
		e := Entry{Seq: uint64(i + 1), At: at.Add(time.Duration(i) * time.Minute), User: "jdoe", Role: "analyst",
			From: "10.0.0.7", Action: ActionSearch, Query: fmt.Sprintf("phone:%d", 5105550100+i), Outcome: OutcomeOK, Prev: prev}
		h, err := hashOf(e)
		if err != nil {
			t.Fatal(err)
		}
		e.Hash = h
		prev = h
		out = append(out, e)
	}
	return out
}

// rehash gives e the hash of its (tampered) content, as a forger would.
func rehash(t *testing.T, e Entry) Entry {
	t.Helper()
	h, err := hashOf(e)
	if err != nil {
		t.Fatal(err)
	}
	e.Hash = h
	return e
}

// TestVerifyEntries feeds tampered runs of entries and wants the first
// problem named at the right entry.
func TestVerifyEntries(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper func(es []Entry) []Entry
		want   *Problem // nil: intact
	}{
		{"intact", func(es []Entry) []Entry { return es }, nil},
		{"empty", func([]Entry) []Entry { return nil }, nil},
		{"intact tail after expiry", func(es []Entry) []Entry { return es[2:] }, nil},
		{"edited query", func(es []Entry) []Entry { es[2].Query = "phone:0"; return es }, &Problem{Seq: 3, What: ProblemEdited}},
		{"edited time", func(es []Entry) []Entry { es[1].At = es[1].At.Add(time.Hour); return es }, &Problem{Seq: 2, What: ProblemEdited}},
		{"edited user", func(es []Entry) []Entry { es[4].User = "someone"; return es }, &Problem{Seq: 5, What: ProblemEdited}},
		{"edited and rehashed", func(es []Entry) []Entry { es[2].User = "someone"; es[2] = rehash(t, es[2]); return es }, &Problem{Seq: 4, What: ProblemBrokenLink}},
		{"edited last and rehashed", func(es []Entry) []Entry { es[4].Object = "x"; es[4] = rehash(t, es[4]); return es }, nil},
		{"missing", func(es []Entry) []Entry { return append(es[:2], es[3:]...) }, &Problem{Seq: 3, What: ProblemMissing}},
		{"missing and renumbered", func(es []Entry) []Entry {
			es = append(es[:2], es[3:]...)
			for i := range es {
				es[i].Seq = uint64(i + 1)
			}
			return es
		}, &Problem{Seq: 3, What: ProblemBrokenLink}},
		{"reordered", func(es []Entry) []Entry { es[1], es[2] = es[2], es[1]; return es }, &Problem{Seq: 2, What: ProblemMissing}},
		{"reordered, sequences kept in place", func(es []Entry) []Entry {
			es[1], es[2] = es[2], es[1]
			es[1].Seq, es[2].Seq = 2, 3
			return es
		}, &Problem{Seq: 2, What: ProblemBrokenLink}},
		{"repeated", func(es []Entry) []Entry { return append(es[:3], es[2:]...) }, &Problem{Seq: 3, What: ProblemOrder}},
		{"first entry linked to nothing before it", func(es []Entry) []Entry { es[0].Prev = es[1].Hash; es[0] = rehash(t, es[0]); return es }, &Problem{Seq: 1, What: ProblemBrokenLink}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := VerifyEntries(tc.tamper(chained(t, 5)))
			if tc.want == nil {
				if err != nil {
					t.Fatalf("VerifyEntries = %v, want intact", err)
				}
				return
			}
			var p *Problem
			if !errors.As(err, &p) {
				t.Fatalf("VerifyEntries = %v, want a *Problem", err)
			}
			if p.Seq != tc.want.Seq || p.What != tc.want.What {
				t.Errorf("VerifyEntries = %q at %d, want %q at %d (%v)", p.What, p.Seq, tc.want.What, tc.want.Seq, err)
			}
		})
	}
}

// TestHashCoversEveryField: changing any field but Seq and Hash changes
// the hash.
func TestHashCoversEveryField(t *testing.T) {
	base := chained(t, 2)[1]
	h0, _ := hashOf(base)
	for name, edit := range map[string]func(*Entry){
		"at": func(e *Entry) { e.At = e.At.Add(time.Nanosecond) }, "user": func(e *Entry) { e.User += "x" },
		"role": func(e *Entry) { e.Role += "x" }, "from": func(e *Entry) { e.From += "x" },
		"action": func(e *Entry) { e.Action = ActionExport }, "object": func(e *Entry) { e.Object += "x" },
		"query": func(e *Entry) { e.Query += "x" }, "case": func(e *Entry) { e.Case += "x" },
		"outcome": func(e *Entry) { e.Outcome = OutcomeDenied }, "prev": func(e *Entry) { e.Prev = "" },
	} {
		e := base
		edit(&e)
		if h, _ := hashOf(e); h == h0 {
			t.Errorf("changing %s leaves the hash unchanged", name)
		}
	}
	e := base
	e.Seq, e.Hash = 99, "whatever"
	if h, _ := hashOf(e); h != h0 {
		t.Error("the hash covers seq or hash")
	}
}
