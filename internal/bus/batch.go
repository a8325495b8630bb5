package bus

import (
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// NextBatch reads from it up to max messages, returning when it has max,
// when wait has passed since the call, or, once a message has come, when
// no other has come for quiet (0: wait alone ends the batch): the last
// messages of a burst are handed over when the burst ends, not when wait
// does. Unlike a Fetch on an ordered consumer, which creates a new
// consumer on the server for every call (in a cluster, a proposal to the
// meta leader each time), the iterator keeps one consumer and recreates it
// only when it is lost, as when the node hosting it goes down. The
// messages read before an error are returned with it; a wait that ends
// with no message is no error.
func NextBatch(it jetstream.MessagesContext, max int, wait, quiet time.Duration) ([]jetstream.Msg, error) {
	var msgs []jetstream.Msg
	deadline := time.Now().Add(wait)
	for len(msgs) < max {
		left := time.Until(deadline)
		if len(msgs) > 0 && quiet > 0 {
			left = min(left, quiet)
		}
		if left <= 0 {
			break
		}
		m, err := it.Next(jetstream.NextMaxWait(left))
		if err != nil {
			if errors.Is(err, nats.ErrTimeout) {
				break
			}
			return msgs, err
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}
