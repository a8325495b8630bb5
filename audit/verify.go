package audit

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// What a Problem found.
const (
	// ProblemEdited: the entry's hash is not the hash of its content (or
	// it does not decode).
	ProblemEdited = "edited"
	// ProblemMissing: an entry is missing, a gap in the sequences.
	ProblemMissing = "missing"
	// ProblemBrokenLink: the entry's Prev is not the hash of the entry
	// before it (an entry rewritten with a new hash, removed and the rest
	// renumbered, or moved).
	ProblemBrokenLink = "broken link"
	// ProblemOrder: the sequences do not increase.
	ProblemOrder = "out of order"
)

// Problem is the first place where the chain does not hold.
type Problem struct {
	// Seq is the sequence of the entry at fault (for ProblemMissing, the
	// first sequence missing).
	Seq uint64
	// What is one of the Problem constants.
	What string
	// Detail says more, for a person.
	Detail string
}

// Error describes the problem.
func (p *Problem) Error() string {
	return fmt.Sprintf("audit entry %d: %s: %s", p.Seq, p.What, p.Detail)
}

// Report is the outcome of Verify.
type Report struct {
	// Entries is how many entries were checked.
	Entries int
	// First and Last are the sequences of the first and last entry
	// checked. Entries older than the retention have expired, so First is
	// above 1 once the trail is older than that; its link to the entry
	// before it cannot be checked.
	First, Last uint64
	// Problem is the first problem found, nil when the chain is intact.
	// Verification stops there.
	Problem *Problem
}

// chain checks entries one at a time, in order.
type chain struct {
	n    int
	last Entry
}

// add checks e against the entries before it.
func (c *chain) add(e Entry) *Problem {
	if c.n > 0 {
		switch {
		case e.Seq <= c.last.Seq:
			return &Problem{Seq: e.Seq, What: ProblemOrder, Detail: fmt.Sprintf("comes after entry %d", c.last.Seq)}
		case e.Seq > c.last.Seq+1:
			return &Problem{Seq: c.last.Seq + 1, What: ProblemMissing, Detail: gone(c.last.Seq+1, e.Seq-1)}
		}
	}
	h, err := hashOf(e)
	if err != nil || h != e.Hash {
		return &Problem{Seq: e.Seq, What: ProblemEdited, Detail: "its content does not match its hash"}
	}
	switch {
	case c.n > 0 && e.Prev != c.last.Hash:
		return &Problem{Seq: e.Seq, What: ProblemBrokenLink, Detail: fmt.Sprintf("its prev is not the hash of entry %d", c.last.Seq)}
	case c.n == 0 && e.Seq == 1 && e.Prev != "":
		return &Problem{Seq: e.Seq, What: ProblemBrokenLink, Detail: "the first entry links to an entry before it"}
	}
	c.n++
	c.last = e
	return nil
}

// gone says which entries are missing.
func gone(from, to uint64) string {
	if from == to {
		return fmt.Sprintf("entry %d is gone", from)
	}
	return fmt.Sprintf("entries %d to %d are gone", from, to)
}

// VerifyEntries checks a run of entries in stream order: each entry's
// hash, each link to the entry before, and that the sequences follow one
// another. It returns nil or the first *Problem. The first entry's own
// link is checked only when it is entry 1 (it must link to nothing).
func VerifyEntries(entries []Entry) error {
	var c chain
	for _, e := range entries {
		if p := c.add(e); p != nil {
			return p
		}
	}
	return nil
}

// Verify reads the whole audit stream in order and checks it as
// VerifyEntries does, and that no entry between the first and the last
// the stream holds is missing. The error is for failing to read the
// stream (ErrNoStream when there is none); what is wrong with the chain
// is in Report.Problem.
func Verify(ctx context.Context, js jetstream.JetStream) (Report, error) {
	s, last, ok, err := span(ctx, js)
	if err != nil || !ok {
		return Report{}, err
	}
	var r Report
	var c chain
	err = each(ctx, s, time.Time{}, last, func(m raw) bool {
		if r.Entries == 0 {
			// Entries before this one have expired (or were removed from
			// the disk behind the server's back: the two look alike).
			r.First = m.seq
		}
		if m.err != nil {
			r.Problem = &Problem{Seq: m.seq, What: ProblemEdited, Detail: m.err.Error()}
			return false
		}
		if r.Problem = c.add(m.entry); r.Problem != nil {
			return false
		}
		r.Entries++
		r.Last = m.seq
		return true
	})
	if err != nil {
		return Report{}, err
	}
	if r.Problem == nil && r.Last < last {
		r.Problem = &Problem{Seq: r.Last + 1, What: ProblemMissing, Detail: gone(r.Last+1, last) + " from the end of the stream"}
	}
	return r, nil
}
