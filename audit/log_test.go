package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/adwatch/adwatch/internal/bus/bustest"
	"github.com/adwatch/adwatch/internal/config"
)

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func open(t *testing.T, js jetstream.JetStream) *Log {
	t.Helper()
	l, err := Open(ctxT(t), js, MinRetention, 1)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// secondConnection is another process's view of the same JetStream.
func secondConnection(t *testing.T, nc *nats.Conn) jetstream.JetStream {
	t.Helper()
	nc2, err := nats.Connect(nc.ConnectedUrl())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc2.Close)
	js, err := jetstream.New(nc2)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func entry(user, action, object string) Entry {
	return Entry{User: user, Role: "analyst", From: "10.0.0.7", Action: action, Object: object, Outcome: OutcomeOK}
}

// TestAppendThenVerify appends through two Logs in turn, as two processes
// would, and wants one chain that Verify finds intact.
func TestAppendThenVerify(t *testing.T) {
	b := bustest.New(t)
	ctx := ctxT(t)
	first, second := open(t, b.JS), open(t, secondConnection(t, b.NC))
	for i, tc := range []struct {
		log  *Log
		e    Entry
		want uint64
	}{
		{first, entry("jdoe", ActionLogin, ""), 1},
		{second, entry("jdoe", ActionViewProfile, "p-12ab"), 2},
		{first, Entry{At: time.Date(2026, 3, 1, 9, 0, 0, 0, time.FixedZone("PST", -8*3600)), User: "asmith", Role: "supervisor",
			From: "cli", Action: ActionExport, Query: "city:Oakland", Case: "2026-0042", Outcome: OutcomeOK}, 3},
	} {
		got, err := tc.log.Append(ctx, tc.e)
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		if got.Seq != tc.want || got.At.IsZero() || got.At.Location() != time.UTC || got.Hash == "" {
			t.Errorf("append %d = seq %d at %v hash %q, want seq %d at a UTC time with a hash", i, got.Seq, got.At, got.Hash, tc.want)
		}
	}
	r, err := Verify(ctx, b.JS)
	if err != nil {
		t.Fatal(err)
	}
	if r.Problem != nil || r.Entries != 3 || r.First != 1 || r.Last != 3 {
		t.Errorf("Verify = %+v, want 3 entries 1..3 intact (problem %v)", r, r.Problem)
	}
	es, err := List(ctx, b.JS, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 3 || es[2].At != time.Date(2026, 3, 1, 17, 0, 0, 0, time.UTC) || es[2].Case != "2026-0042" {
		t.Errorf("List = %+v", es)
	}
	if err := VerifyEntries(es); err != nil {
		t.Errorf("VerifyEntries(List) = %v", err)
	}
}

// TestConcurrentAppends: two processes appending 50 entries each at once
// leave one intact chain of 100.
func TestConcurrentAppends(t *testing.T) {
	b := bustest.New(t)
	ctx := ctxT(t)
	logs := []*Log{open(t, b.JS), open(t, secondConnection(t, b.NC))}
	var wg sync.WaitGroup
	errs := make([]error, len(logs))
	for i, l := range logs {
		wg.Go(func() {
			for range 50 {
				if _, err := l.Append(ctx, entry("user", ActionSearch, "")); err != nil {
					errs[i] = err
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	r, err := Verify(ctx, b.JS)
	if err != nil {
		t.Fatal(err)
	}
	if r.Problem != nil || r.Entries != 100 {
		t.Errorf("Verify = %d entries, problem %v; want 100 intact", r.Entries, r.Problem)
	}
}

// TestConcurrentAppendsOneLog: goroutines sharing one Log; the trail is
// longer than one batch of a read.
func TestConcurrentAppendsOneLog(t *testing.T) {
	b := bustest.New(t)
	ctx := ctxT(t)
	l := open(t, b.JS)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				if _, err := l.Append(ctx, entry("user", ActionViewAd, "ad-1")); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if r, err := Verify(ctx, b.JS); err != nil || r.Problem != nil || r.Entries != 400 {
		t.Errorf("Verify = %+v, %v; want 400 intact", r, err)
	}
}

// TestServerRefusesDeleteAndPurge: the stream keeps every entry whatever
// a client asks.
func TestServerRefusesDeleteAndPurge(t *testing.T) {
	b := bustest.New(t)
	ctx := ctxT(t)
	l := open(t, b.JS)
	for range 3 {
		if _, err := l.Append(ctx, entry("jdoe", ActionSearch, "")); err != nil {
			t.Fatal(err)
		}
	}
	s, err := b.JS.Stream(ctx, Stream)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		do   func() error
	}{
		{"delete", func() error { return s.DeleteMsg(ctx, 2) }},
		{"secure delete", func() error { return s.SecureDeleteMsg(ctx, 2) }},
		{"purge", func() error { return s.Purge(ctx) }},
		{"purge up to", func() error { return s.Purge(ctx, jetstream.WithPurgeSequence(3)) }},
	} {
		// The server says "message delete not permitted" (10057) and
		// "stream purge not permitted" (10110).
		if err := tc.do(); err == nil || !strings.Contains(err.Error(), "not permitted") {
			t.Errorf("%s: %v, want the server's refusal", tc.name, err)
		}
	}
	if r, err := Verify(ctx, b.JS); err != nil || r.Problem != nil || r.Entries != 3 {
		t.Errorf("after the refusals Verify = %+v, %v; want 3 intact", r, err)
	}
}

// TestOpenRetention: a retention under a year is refused; the stream
// gets the retention asked for.
func TestOpenRetention(t *testing.T) {
	if config.MinAuditRetention != MinRetention {
		t.Fatalf("config.MinAuditRetention %s != audit.MinRetention %s", config.MinAuditRetention, MinRetention)
	}
	if got := config.Default().Audit.Retention; got != MinRetention {
		t.Errorf("default audit.retention %s, want %s", got, MinRetention)
	}
	b := bustest.New(t)
	ctx := ctxT(t)
	for _, tc := range []struct {
		retention time.Duration
		ok        bool
	}{
		{0, false},
		{-time.Hour, false},
		{30 * 24 * time.Hour, false},
		{MinRetention - time.Second, false},
		{MinRetention, true},
		{7 * MinRetention, true},
	} {
		_, err := Open(ctx, b.JS, tc.retention, 1)
		if tc.ok != (err == nil) || !tc.ok && !errors.Is(err, ErrRetention) {
			t.Errorf("Open with retention %s = %v, want ok %v", tc.retention, err, tc.ok)
			continue
		}
		if !tc.ok {
			continue
		}
		s, err := b.JS.Stream(ctx, Stream)
		if err != nil {
			t.Fatal(err)
		}
		c := s.CachedInfo().Config
		if c.MaxAge != tc.retention || !c.DenyDelete || !c.DenyPurge || c.Storage != jetstream.FileStorage {
			t.Errorf("stream after Open(%s): max age %s, deny delete %v, deny purge %v, storage %v",
				tc.retention, c.MaxAge, c.DenyDelete, c.DenyPurge, c.Storage)
		}
	}
}

// TestAppendRefuses entries that are not an action of a user.
func TestAppendRefuses(t *testing.T) {
	b := bustest.New(t)
	l := open(t, b.JS)
	for _, tc := range []struct {
		name string
		e    Entry
		want string
	}{
		{"unknown action", Entry{User: "u", From: "cli", Action: "peek", Outcome: OutcomeOK}, "unknown audit action"},
		{"no outcome", Entry{User: "u", From: "cli", Action: ActionSearch}, "unknown audit outcome"},
		{"no user", Entry{From: "cli", Action: ActionSearch, Outcome: OutcomeOK}, "without a user"},
		{"no origin", Entry{User: "u", Action: ActionSearch, Outcome: OutcomeOK}, "without a user or an origin"},
	} {
		if _, err := l.Append(ctxT(t), tc.e); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}

// TestVerifyFindsForgery: an entry published around Append, or one that
// is not an entry at all, breaks the chain; so does an entry removed from
// a stream that allowed it.
func TestVerifyFindsForgery(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper func(ctx context.Context, js jetstream.JetStream, s jetstream.Stream) error
		want   Problem
	}{
		{"forged link", func(ctx context.Context, js jetstream.JetStream, _ jetstream.Stream) error {
			e := normalize(entry("mallory", ActionSearch, ""))
			e.At, e.Prev = time.Now(), strings.Repeat("0", 64)
			e.Hash, _ = hashOf(e)
			data, _ := json.Marshal(e)
			_, err := js.Publish(ctx, Subject, data)
			return err
		}, Problem{Seq: 4, What: ProblemBrokenLink}},
		{"garbage", func(ctx context.Context, js jetstream.JetStream, _ jetstream.Stream) error {
			_, err := js.Publish(ctx, Subject, []byte("not json"))
			return err
		}, Problem{Seq: 4, What: ProblemEdited}},
		{"deleted", func(ctx context.Context, _ jetstream.JetStream, s jetstream.Stream) error {
			return s.DeleteMsg(ctx, 2)
		}, Problem{Seq: 2, What: ProblemMissing}},
		{"deleted last", func(ctx context.Context, _ jetstream.JetStream, s jetstream.Stream) error {
			return s.DeleteMsg(ctx, 3)
		}, Problem{Seq: 3, What: ProblemMissing}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := bustest.New(t)
			ctx := ctxT(t)
			// A stream that allows deleting, to tamper with.
			cfg := StreamConfig(MinRetention, 1)
			cfg.DenyDelete, cfg.DenyPurge = false, false
			s, err := b.JS.CreateStream(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			l := &Log{stream: s, js: b.JS, log: slog.New(slog.DiscardHandler)}
			for range 3 {
				if _, err := l.Append(ctx, entry("jdoe", ActionSearch, "")); err != nil {
					t.Fatal(err)
				}
			}
			if err := tc.tamper(ctx, b.JS, s); err != nil {
				t.Fatal(err)
			}
			r, err := Verify(ctx, b.JS)
			if err != nil {
				t.Fatal(err)
			}
			if r.Problem == nil || r.Problem.Seq != tc.want.Seq || r.Problem.What != tc.want.What {
				t.Errorf("Verify = %+v, problem %v; want %q at %d", r, r.Problem, tc.want.What, tc.want.Seq)
			}
		})
	}
}

// TestList filters by user and time.
func TestList(t *testing.T) {
	b := bustest.New(t)
	ctx := ctxT(t)
	l := open(t, b.JS)
	day := func(d int) time.Time { return time.Date(2026, 3, d, 12, 0, 0, 0, time.UTC) }
	for _, e := range []Entry{
		{At: day(1), User: "jdoe", From: "cli", Action: ActionLogin, Outcome: OutcomeOK},
		{At: day(2), User: "asmith", From: "cli", Action: ActionLogin, Outcome: OutcomeOK},
		{At: day(3), User: "jdoe", From: "cli", Action: ActionLogout, Outcome: OutcomeOK},
	} {
		if _, err := l.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		f    Filter
		want []uint64
	}{
		{Filter{}, []uint64{1, 2, 3}},
		{Filter{User: "jdoe"}, []uint64{1, 3}},
		{Filter{User: "nobody"}, nil},
		{Filter{Since: day(2)}, []uint64{2, 3}},
		{Filter{Since: day(2), User: "jdoe"}, []uint64{3}},
	} {
		es, err := List(ctx, b.JS, tc.f)
		if err != nil {
			t.Fatal(err)
		}
		var got []uint64
		for _, e := range es {
			got = append(got, e.Seq)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("List(%+v) = %v, want %v", tc.f, got, tc.want)
		}
	}
}

// TestNoStream: reading a trail that does not exist says so.
func TestNoStream(t *testing.T) {
	b := bustest.New(t)
	if _, err := Verify(ctxT(t), b.JS); !errors.Is(err, ErrNoStream) {
		t.Errorf("Verify = %v, want ErrNoStream", err)
	}
	if _, err := List(ctxT(t), b.JS, Filter{}); !errors.Is(err, ErrNoStream) {
		t.Errorf("List = %v, want ErrNoStream", err)
	}
	open(t, b.JS)
	if r, err := Verify(ctxT(t), b.JS); err != nil || r.Entries != 0 || r.Problem != nil {
		t.Errorf("Verify of an empty trail = %+v, %v", r, err)
	}
}

// TestLogValueHidesContent: an entry logged by mistake shows no query,
// object or case.
func TestLogValueHidesContent(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	e := Entry{Seq: 7, User: "jdoe", From: "cli", Action: ActionSearch, Query: "phone:5105550123", Object: "img-9f8e", Case: "2026-0042", Outcome: OutcomeOK}
	log.Info("oops", "entry", e)
	for _, secret := range []string{"5105550123", "img-9f8e", "2026-0042"} {
		if strings.Contains(buf.String(), secret) {
			t.Errorf("the log shows %q: %s", secret, buf.String())
		}
	}
	if !strings.Contains(buf.String(), "entry.action=search") {
		t.Errorf("the log lacks the action: %s", buf.String())
	}
}
