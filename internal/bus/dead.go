package bus

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// DeadLetter is one message a stage gave up on.
type DeadLetter struct {
	// Seq is the dead letter's sequence in ADWATCH_DEAD: what retry takes.
	Seq uint64    `json:"seq"`
	At  time.Time `json:"at"`
	// Stage gave up on it, with this error, after Deliveries tries.
	Stage      string `json:"stage"`
	Error      string `json:"error"`
	Deliveries int    `json:"deliveries"`
	// Subject, Stream and StreamSeq are where the message came from.
	Subject   string `json:"subject"`
	Stream    string `json:"stream"`
	StreamSeq uint64 `json:"stream_seq"`
	// Size is the message's size in bytes.
	Size int `json:"size"`
}

// ErrNoDeadLetter is returned by RetryDead for a sequence that holds no
// dead letter.
var ErrNoDeadLetter = errors.New("no such dead letter")

func deadLetterOf(m *jetstream.RawStreamMsg) DeadLetter {
	h := m.Header
	tries, _ := strconv.Atoi(h.Get(HeaderDeadTries))
	oseq, _ := strconv.ParseUint(h.Get(HeaderDeadSeq), 10, 64)
	return DeadLetter{Seq: m.Sequence, At: m.Time.UTC(), Stage: h.Get(HeaderDeadStage), Error: h.Get(HeaderDeadError),
		Deliveries: tries, Subject: h.Get(HeaderDeadSubject), Stream: h.Get(HeaderDeadStream), StreamSeq: oseq, Size: len(m.Data)}
}

// ListDead returns the dead letters waiting, oldest first.
func ListDead(ctx context.Context, js jetstream.JetStream) ([]DeadLetter, error) {
	s, err := js.Stream(ctx, StreamDead)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", StreamDead, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", StreamDead, err)
	}
	var out []DeadLetter
	if info.State.Msgs == 0 {
		return out, nil
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // retried
		}
		if err != nil {
			return nil, fmt.Errorf("reading dead letter %d: %w", seq, err)
		}
		out = append(out, deadLetterOf(m))
	}
	return out, nil
}

// RetryDead publishes dead letter seq again on its original subject, for
// its stage to process anew, and then removes it.
func RetryDead(ctx context.Context, js jetstream.JetStream, seq uint64) (DeadLetter, error) {
	s, err := js.Stream(ctx, StreamDead)
	if err != nil {
		return DeadLetter{}, fmt.Errorf("opening %s: %w", StreamDead, err)
	}
	m, err := s.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return DeadLetter{}, fmt.Errorf("%w: %d", ErrNoDeadLetter, seq)
	}
	if err != nil {
		return DeadLetter{}, fmt.Errorf("reading dead letter %d: %w", seq, err)
	}
	d := deadLetterOf(m)
	if d.Subject == "" {
		return d, fmt.Errorf("dead letter %d names no subject", seq)
	}
	// A new message (no message ID): the stream's duplicate window must
	// not swallow it.
	if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: d.Subject, Data: m.Data}); err != nil {
		return d, fmt.Errorf("publishing dead letter %d again: %w", seq, err)
	}
	if err := s.DeleteMsg(ctx, seq); err != nil {
		return d, fmt.Errorf("removing dead letter %d after retrying it: %w", seq, err)
	}
	return d, nil
}
