package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrNoStream is returned by List and Verify when the audit stream does
// not exist: nothing has been audited yet, or the stream was deleted.
var ErrNoStream = errors.New("audit stream " + Stream + " does not exist")

// raw is one stored message: its sequence and the entry it decodes to,
// or the decoding error.
type raw struct {
	seq   uint64
	entry Entry
	err   error
}

// span looks up the stream and the last sequence it holds; ok is false
// when it holds no entry.
func span(ctx context.Context, js jetstream.JetStream) (s jetstream.Stream, last uint64, ok bool, err error) {
	s, err = js.Stream(ctx, Stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, 0, false, ErrNoStream
	}
	if err != nil {
		return nil, 0, false, fmt.Errorf("looking up audit stream %s: %w", Stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil, 0, false, fmt.Errorf("reading audit stream %s: %w", Stream, err)
	}
	st := info.State
	return s, st.LastSeq, st.Msgs > 0, nil
}

// each hands fn every message from start (a time; zero for the first)
// up to the sequence last, in order, through an ordered consumer. It stops
// early when fn returns false.
func each(ctx context.Context, s jetstream.Stream, start time.Time, last uint64, fn func(raw) bool) error {
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{Subject}, DeliverPolicy: jetstream.DeliverAllPolicy}
	if !start.IsZero() {
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &start
	}
	cons, err := s.OrderedConsumer(ctx, cfg)
	if err != nil {
		return fmt.Errorf("reading audit stream %s: %w", Stream, err)
	}
	for {
		batch, err := cons.FetchNoWait(256)
		if err != nil {
			return fmt.Errorf("reading audit stream %s: %w", Stream, err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			meta, err := m.Metadata()
			if err != nil {
				return fmt.Errorf("reading audit stream %s: %w", Stream, err)
			}
			r := raw{seq: meta.Sequence.Stream}
			if err := json.Unmarshal(m.Data(), &r.entry); err != nil {
				r.err = fmt.Errorf("decoding audit entry %d: %w", r.seq, err)
			}
			r.entry.Seq = r.seq
			if !fn(r) || r.seq >= last || meta.NumPending == 0 {
				// Drain the rest of the batch so that its subscription ends.
				for range batch.Messages() {
				}
				return nil
			}
		}
		if err := batch.Error(); err != nil && ctx.Err() != nil {
			return fmt.Errorf("reading audit stream %s: %w", Stream, ctx.Err())
		}
		if n == 0 {
			return nil
		}
	}
}

// Filter selects entries for List; a zero field selects all.
type Filter struct {
	// Since keeps the entries at or after this time.
	Since time.Time
	// User keeps the entries of this user.
	User string
}

// sinceSlack is how far before Filter.Since List starts reading by the
// server's time stamps, for writers whose clocks run ahead of the
// server's.
const sinceSlack = time.Hour

// List returns the entries that match f, in the order they were appended.
// It returns ErrNoStream when there is no audit stream.
func List(ctx context.Context, js jetstream.JetStream, f Filter) ([]Entry, error) {
	s, last, ok, err := span(ctx, js)
	if err != nil || !ok {
		return nil, err
	}
	var start time.Time
	if !f.Since.IsZero() {
		start = f.Since.Add(-sinceSlack)
	}
	var out []Entry
	var bad error
	err = each(ctx, s, start, last, func(r raw) bool {
		if r.err != nil {
			bad = r.err
			return false
		}
		e := r.entry
		if (f.User == "" || e.User == f.User) && !e.At.Before(f.Since) {
			out = append(out, e)
		}
		return true
	})
	if err == nil {
		err = bad
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}
