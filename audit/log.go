package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// The stream of the audit trail and its one subject.
const (
	Stream  = "ADWATCH_AUDIT"
	Subject = "adwatch.audit"
)

// MinRetention is the shortest time audit entries may be kept: one year.
const MinRetention = 365 * 24 * time.Hour

// maxAttempts bounds the appends that lose the race to another writer:
// each loss means another entry was written, so only a trail many
// processes write at once at a high rate comes near it.
const maxAttempts = 50

var (
	// ErrRetention is returned by Open for a retention under MinRetention.
	ErrRetention = errors.New("audit retention is shorter than a year")
	// ErrContended is returned by Append when other writers kept appending
	// before it for maxAttempts attempts.
	ErrContended = errors.New("audit trail kept moving under the append")
)

// Log appends entries to the audit trail. It is safe for concurrent use,
// and several processes may each have one on the same stream.
type Log struct {
	stream jetstream.Stream
	js     jetstream.JetStream
	log    *slog.Logger

	mu sync.Mutex
	// lastSeq and lastHash are the end of the chain as this Log last
	// saw it; a publish that finds the stream moved on re-reads them.
	lastSeq  uint64
	lastHash string
	known    bool
}

// Option configures a Log.
type Option func(*Log)

// WithLogger sends the Log's own events (appends that raced another
// writer) to log; by default they are discarded. No entry's object or
// query is ever logged.
func WithLogger(log *slog.Logger) Option {
	return func(l *Log) { l.log = log }
}

// Open creates the audit stream, or updates its retention and replicas,
// and returns a Log appending to it. A retention under MinRetention is an
// error wrapping ErrRetention; replicas under 1 mean 1.
func Open(ctx context.Context, js jetstream.JetStream, retention time.Duration, replicas int, opts ...Option) (*Log, error) {
	if retention < MinRetention {
		return nil, fmt.Errorf("opening audit stream %s with retention %s: %w (minimum %s)", Stream, retention, ErrRetention, MinRetention)
	}
	s, err := js.CreateOrUpdateStream(ctx, StreamConfig(retention, replicas))
	if err != nil {
		return nil, fmt.Errorf("creating stream %s: %w", Stream, err)
	}
	l := &Log{stream: s, js: js, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(l)
	}
	return l, nil
}

// StreamConfig is the configuration of the audit stream: on disk, never
// deleted from or purged, entries kept for retention.
func StreamConfig(retention time.Duration, replicas int) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        Stream,
		Description: "adwatch audit trail (hash chain; see adwatch audit verify)",
		Subjects:    []string{Subject},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      retention,
		DenyDelete:  true,
		DenyPurge:   true,
		Replicas:    max(replicas, 1),
	}
}

// Append records e: it sets At to now if it is zero, links e to the last
// entry of the stream (Prev), computes its Hash and publishes it on the
// condition that the stream still ends where it was read. When another
// writer got there first it reads the new end and tries again. It returns
// the entry as stored, with its Seq.
func (l *Log) Append(ctx context.Context, e Entry) (Entry, error) {
	if err := check(e); err != nil {
		return Entry{}, err
	}
	now := e.At.IsZero()
	l.mu.Lock()
	defer l.mu.Unlock()
	for attempt := 1; ; attempt++ {
		if !l.known {
			if err := l.readEnd(ctx); err != nil {
				return Entry{}, err
			}
		}
		if now {
			e.At = time.Now()
		}
		e = normalize(e)
		e.Seq, e.Prev = 0, l.lastHash
		h, err := hashOf(e)
		if err != nil {
			return Entry{}, err
		}
		e.Hash = h
		data, err := json.Marshal(e)
		if err != nil {
			return Entry{}, fmt.Errorf("encoding audit entry: %w", err)
		}
		ack, err := l.js.Publish(ctx, Subject, data, jetstream.WithExpectLastSequence(l.lastSeq), jetstream.WithExpectStream(Stream))
		if err == nil {
			e.Seq = ack.Sequence
			l.lastSeq, l.lastHash = ack.Sequence, e.Hash
			return e, nil
		}
		// Whatever went wrong, the end of the chain must be read again.
		l.known = false
		if !wrongLastSeq(err) {
			return Entry{}, fmt.Errorf("appending to audit stream %s: %w", Stream, err)
		}
		if attempt == maxAttempts {
			return Entry{}, fmt.Errorf("appending to audit stream %s after %d attempts: %w", Stream, attempt, ErrContended)
		}
		l.log.Debug("audit append raced another writer; retrying", "attempt", attempt, "expected_last_seq", l.lastSeq)
		// A little jitter keeps two writers from colliding in lockstep.
		select {
		case <-ctx.Done():
			return Entry{}, fmt.Errorf("appending to audit stream %s: %w", Stream, ctx.Err())
		case <-time.After(rand.N(time.Duration(attempt) * time.Millisecond)):
		}
	}
}

// readEnd reads the stream's last sequence, then the hash of the entry
// there: in that order, since entries are never removed but may be added
// in between. When every entry has expired the chain starts again: Prev
// is empty.
func (l *Log) readEnd(ctx context.Context) error {
	info, err := l.stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("reading audit stream %s: %w", Stream, err)
	}
	seq, hash := info.State.LastSeq, ""
	if seq > 0 {
		m, err := l.stream.GetMsg(ctx, seq)
		switch {
		case errors.Is(err, jetstream.ErrMsgNotFound):
		case err != nil:
			return fmt.Errorf("reading audit entry %d: %w", seq, err)
		default:
			var last Entry
			if err := json.Unmarshal(m.Data, &last); err != nil {
				return fmt.Errorf("decoding audit entry %d: %w", seq, err)
			}
			hash = last.Hash
		}
	}
	l.lastSeq, l.lastHash, l.known = seq, hash, true
	return nil
}

// wrongLastSeq reports whether err is the server refusing a publish
// because the stream no longer ends at the expected sequence (10071;
// replicated streams say 10164).
func wrongLastSeq(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) &&
		(apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// List returns the entries that match f, in the order they were appended
// (the package's List on this Log's stream).
func (l *Log) List(ctx context.Context, f Filter) ([]Entry, error) {
	return List(ctx, l.js, f)
}
