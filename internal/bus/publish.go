package bus

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// PublishAll publishes msgs without waiting for each acknowledgement in
// turn: every message is sent, then the acknowledgements are awaited
// together, each for at most wait after the last was sent. acks[i] and
// errs[i] are msgs[i]'s: a message whose errs[i] is nil is stored in its
// stream; one with an error may or may not be, and is to be published
// again (or its source redelivered) as after a failed PublishMsg. Each
// message must carry a message id (jetstream.MsgIDHeader), so that one
// published again after a lost acknowledgement is stored once.
func PublishAll(ctx context.Context, js jetstream.JetStream, msgs []*nats.Msg, wait time.Duration) ([]*jetstream.PubAck, []error) {
	acks := make([]*jetstream.PubAck, len(msgs))
	errs := make([]error, len(msgs))
	futures := make([]jetstream.PubAckFuture, len(msgs))
	for i, m := range msgs {
		if err := ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		f, err := js.PublishMsgAsync(m)
		if err != nil {
			errs[i] = fmt.Errorf("publishing on %s: %w", m.Subject, err)
			continue
		}
		futures[i] = f
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	late := false
	for i, f := range futures {
		if f == nil {
			continue
		}
		select {
		case ack := <-f.Ok():
			acks[i] = ack
			continue
		case err := <-f.Err():
			errs[i] = fmt.Errorf("publishing on %s: %w", msgs[i].Subject, err)
			continue
		default:
		}
		if late {
			// Past the deadline: what is already acknowledged counts,
			// nothing more is waited for.
			errs[i] = fmt.Errorf("publishing on %s: %w", msgs[i].Subject, errAckWait)
			continue
		}
		select {
		case ack := <-f.Ok():
			acks[i] = ack
		case err := <-f.Err():
			errs[i] = fmt.Errorf("publishing on %s: %w", msgs[i].Subject, err)
		case <-deadline.C:
			late = true
			errs[i] = fmt.Errorf("publishing on %s: %w", msgs[i].Subject, errAckWait)
		case <-ctx.Done():
			errs[i] = fmt.Errorf("publishing on %s: %w", msgs[i].Subject, ctx.Err())
		}
	}
	return acks, errs
}

// errAckWait is a publication whose acknowledgement did not come in time.
var errAckWait = fmt.Errorf("no acknowledgement in time: %w", nats.ErrTimeout)

// ObjectStream returns the stream that holds the object store bucket
// (OBJ_<bucket>), for ReadObject.
func ObjectStream(ctx context.Context, js jetstream.JetStream, bucket string) (jetstream.Stream, error) {
	s, err := js.Stream(ctx, "OBJ_"+bucket)
	if err != nil {
		return nil, fmt.Errorf("looking up the stream of object store %s: %w", bucket, err)
	}
	return s, nil
}

// errNotOneChunk is an object ReadObject does not read: empty, a link, or
// in several chunks.
var errNotOneChunk = errors.New("not an object of one chunk")

// ReadObject returns the bytes of the object name of store, held in
// stream (ObjectStream), when it is one chunk: read with two direct gets
// (its description, then its chunk) rather than the consumer that
// ObjectStore.Get creates and deletes for every object. The bytes are
// checked against the object's SHA-256 digest. Any error (an object of
// several chunks, one not found on the server asked, a digest that does
// not match) means it was not read this way: ObjectStore.Get then reads
// it, or says why it cannot.
func ReadObject(ctx context.Context, stream jetstream.Stream, store jetstream.ObjectStore, name string) ([]byte, error) {
	info, err := store.GetInfo(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("reading object %s: %w", name, err)
	}
	if info.Chunks != 1 || info.NUID == "" || info.Opts != nil && info.Opts.Link != nil {
		return nil, fmt.Errorf("reading object %s: %w", name, errNotOneChunk)
	}
	m, err := stream.GetLastMsgForSubject(ctx, "$O."+info.Bucket+".C."+info.NUID)
	if err != nil {
		return nil, fmt.Errorf("reading object %s: %w", name, err)
	}
	want, err := jetstream.DecodeObjectDigest(info.Digest)
	if err != nil {
		return nil, fmt.Errorf("reading object %s: %w", name, err)
	}
	sum := sha256.Sum256(m.Data)
	if uint64(len(m.Data)) != info.Size || !bytes.Equal(sum[:], want) {
		return nil, fmt.Errorf("reading object %s: its chunk does not match its digest", name)
	}
	return m.Data, nil
}
