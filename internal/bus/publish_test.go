package bus_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/adwatch/adwatch/internal/bus"
	"github.com/adwatch/adwatch/internal/bus/bustest"
)

// silentJS sends nothing for the messages whose id silence names: their
// acknowledgements never come.
type silentJS struct {
	jetstream.JetStream
	silence func(id string) bool
}

type neverAcked struct{ jetstream.PubAckFuture }

func (neverAcked) Ok() <-chan *jetstream.PubAck { return nil }
func (neverAcked) Err() <-chan error            { return nil }

func (s silentJS) PublishMsgAsync(m *nats.Msg, opts ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
	if s.silence(m.Header.Get(jetstream.MsgIDHeader)) {
		return neverAcked{}, nil
	}
	return s.JetStream.PublishMsgAsync(m, opts...)
}

// TestPublishAll: the messages are stored in the order given, each error
// is its own message's (no stream for its subject, no acknowledgement in
// time), and published again the same messages are stored once.
func TestPublishAll(t *testing.T) {
	b := bustest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var msgs []*nats.Msg
	for i := range 50 {
		subject := bus.SubjectAds + ".site"
		if i == 7 {
			subject = "nowhere.site" // no stream takes it
		}
		m := &nats.Msg{Subject: subject, Data: fmt.Appendf(nil, "ad %d", i), Header: nats.Header{}}
		m.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("ad-%d", i))
		msgs = append(msgs, m)
	}
	js := silentJS{JetStream: b.JS, silence: func(id string) bool { return id == "ad-30" || id == "ad-31" }}
	acks, errs := bus.PublishAll(ctx, js, msgs, 2*time.Second)
	for i := range msgs {
		failed := i == 7 || i == 30 || i == 31
		if (errs[i] != nil) != failed || (acks[i] == nil) != failed {
			t.Errorf("message %d: ack %v, error %v; want a failure only for 7, 30 and 31", i, acks[i], errs[i])
		}
	}
	st, err := b.JS.Stream(ctx, bus.StreamAds)
	if err != nil {
		t.Fatal(err)
	}
	check := func(want []int) {
		t.Helper()
		info, err := st.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs != uint64(len(want)) {
			t.Fatalf("%d messages stored, want %d", info.State.Msgs, len(want))
		}
		for k, i := range want {
			m, err := st.GetMsg(ctx, info.State.FirstSeq+uint64(k))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(m.Data, msgs[i].Data) {
				t.Errorf("message %d stored is %q, want %q", k, m.Data, msgs[i].Data)
			}
		}
	}
	var want []int
	for i := range msgs {
		if i != 7 && i != 30 && i != 31 {
			want = append(want, i)
		}
	}
	check(want)

	// Again, all through: the ones stored before are not stored twice.
	msgs[7].Subject = bus.SubjectAds + ".site"
	acks, errs = bus.PublishAll(ctx, b.JS, msgs, 10*time.Second)
	for i := range msgs {
		if errs[i] != nil || acks[i] == nil {
			t.Fatalf("again, message %d: %v", i, errs[i])
		}
		if again := i != 7 && i != 30 && i != 31; acks[i].Duplicate != again {
			t.Errorf("again, message %d: duplicate %v, want %v", i, acks[i].Duplicate, again)
		}
	}
	check(append(want, 7, 30, 31))
}

// TestReadObject: an object of one chunk is read whole by ReadObject; one
// of several chunks, or none, is left to ObjectStore.Get.
func TestReadObject(t *testing.T) {
	b := bustest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	small := bytes.Repeat([]byte("small photo "), 1000)
	large := bytes.Repeat([]byte("a large photo "), 40_000) // over the store's 128 KiB chunks
	for name, data := range map[string][]byte{"small": small, "large": large} {
		if _, err := b.Images.PutBytes(ctx, name, data); err != nil {
			t.Fatal(err)
		}
	}
	st, err := bus.ObjectStream(ctx, b.JS, bus.BucketImages)
	if err != nil {
		t.Fatal(err)
	}
	got, err := bus.ReadObject(ctx, st, b.Images, "small")
	if err != nil || !bytes.Equal(got, small) {
		t.Errorf("small object: %d bytes, %v; want its %d bytes", len(got), err, len(small))
	}
	for _, name := range []string{"large", "missing"} {
		if got, err := bus.ReadObject(ctx, st, b.Images, name); err == nil {
			t.Errorf("%s object: read %d bytes, want an error", name, len(got))
		}
	}
	if got, err := b.Images.GetBytes(ctx, "large"); err != nil || !bytes.Equal(got, large) {
		t.Errorf("large object through the store: %d bytes, %v", len(got), err)
	}
}
