package bus_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/adwatch/adwatch/internal/bus"
	"github.com/adwatch/adwatch/internal/bus/bustest"
)

// TestDeadLetters: in one batch, a message that always fails reaches the
// dead letters after MaxDeliver tries and a poison one at once, both with
// their stage, error and subject, counted; the others are processed once
// and never held back. Retrying a dead letter hands it to the stage again
// and removes it.
func TestDeadLetters(t *testing.T) {
	b := bustest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, body := range []string{"ok-1", "always-fails", "ok-2", "poison", "ok-3"} {
		if _, err := b.JS.Publish(ctx, bus.SubjectPages+".site", []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	seen := map[string]int{}
	healed := false
	handler := func(_ context.Context, msgs []jetstream.Msg) []error {
		mu.Lock()
		defer mu.Unlock()
		errs := make([]error, len(msgs))
		for i, m := range msgs {
			body := string(m.Data())
			seen[body]++
			switch {
			case body == "always-fails" && !healed:
				errs[i] = errors.New("the index is read-only")
			case body == "poison" && !healed:
				errs[i] = fmt.Errorf("%w: does not decode", bus.ErrPoison)
			}
		}
		return errs
	}
	dead := bus.NewDeadLetterCounter(nil, "extractor")
	c := bus.Consumer{Stream: bus.StreamPages, Durable: "extractor", Batch: 8, Stage: "extractor", MaxDeliver: 3, Dead: dead}
	run := func() (stop func()) {
		rctx, rcancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- c.Run(rctx, b.JS, handler) }()
		return func() {
			rcancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
	}
	stop := run()
	waitDead := func(n int) []bus.DeadLetter {
		t.Helper()
		for ctx.Err() == nil {
			list, err := bus.ListDead(ctx, b.JS)
			if err != nil {
				t.Fatal(err)
			}
			if len(list) == n {
				return list
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("timed out waiting for %d dead letters", n)
		return nil
	}
	list := waitDead(2)
	stop()
	mu.Lock()
	for _, ok := range []string{"ok-1", "ok-2", "ok-3"} {
		if seen[ok] != 1 {
			t.Errorf("%s handled %d times, want once", ok, seen[ok])
		}
	}
	if seen["always-fails"] != 3 || seen["poison"] != 1 {
		t.Errorf("the failing message was tried %d times (want 3), the poison one %d (want 1)", seen["always-fails"], seen["poison"])
	}
	healed = true
	mu.Unlock()
	slices.SortFunc(list, func(a, b bus.DeadLetter) int { return int(b.StreamSeq) - int(a.StreamSeq) })
	if d := list[0]; d.Stage != "extractor" || d.Subject != bus.SubjectPages+".site" || d.Stream != bus.StreamPages ||
		!strings.Contains(d.Error, "does not decode") || d.Deliveries != 1 || d.StreamSeq != 4 {
		t.Errorf("poison dead letter %+v", d)
	}
	if d := list[1]; !strings.Contains(d.Error, "read-only") || d.Deliveries != 3 || d.StreamSeq != 2 {
		t.Errorf("failing dead letter %+v", d)
	}
	if got := testutil.ToFloat64(dead); got != 2 {
		t.Errorf("adwatch_dead_letters_total %v, want 2", got)
	}
	for _, d := range list {
		if _, err := bus.RetryDead(ctx, b.JS, d.Seq); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := bus.RetryDead(ctx, b.JS, list[0].Seq); !errors.Is(err, bus.ErrNoDeadLetter) {
		t.Errorf("retrying twice: %v, want ErrNoDeadLetter", err)
	}
	stop = run()
	defer stop()
	for ctx.Err() == nil {
		mu.Lock()
		n := seen["always-fails"] + seen["poison"]
		mu.Unlock()
		if n == 3+1+2 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if list := waitDead(0); len(list) != 0 {
		t.Errorf("dead letters after retry: %+v", list)
	}
}

// TestLongBatchIsNotRedelivered: a batch that takes longer than the
// acknowledgement wait is marked in progress, so it is handled once.
func TestLongBatchIsNotRedelivered(t *testing.T) {
	if testing.Short() {
		t.Skip("takes a few seconds")
	}
	b := bustest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := b.JS.Publish(ctx, bus.SubjectAds+".site", []byte("slow")); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	n := 0
	c := bus.Consumer{Stream: bus.StreamAds, Durable: "indexer", Batch: 1, AckWait: time.Second}
	rctx, rcancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- c.Run(rctx, b.JS, func(_ context.Context, msgs []jetstream.Msg) []error {
			mu.Lock()
			n++
			mu.Unlock()
			time.Sleep(3 * time.Second)
			return make([]error, len(msgs))
		})
	}()
	time.Sleep(5 * time.Second)
	rcancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if n != 1 {
		t.Errorf("a 3 s batch with a 1 s acknowledgement wait was handled %d times, want once", n)
	}
}

// flakyJS fails its first consumer creations or publications as a
// cluster that is electing a leader does.
type flakyJS struct {
	jetstream.JetStream
	fails []error
	calls int
}

func (f *flakyJS) PublishMsg(ctx context.Context, msg *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	f.calls++
	if f.calls <= len(f.fails) {
		return nil, f.fails[f.calls-1]
	}
	return f.JetStream.PublishMsg(ctx, msg, opts...)
}

func (f *flakyJS) CreateOrUpdateConsumer(ctx context.Context, stream string, cfg jetstream.ConsumerConfig) (jetstream.Consumer, error) {
	f.calls++
	if f.calls <= len(f.fails) {
		return nil, f.fails[f.calls-1]
	}
	return f.JetStream.CreateOrUpdateConsumer(ctx, stream, cfg)
}

// TestConsumerOpenWaitsForTheCluster: a consumer created while the
// cluster misses a node (a timeout, no responders, a 503) is created once
// the cluster answers, instead of failing its stage; a request the server
// refuses fails at once.
func TestConsumerOpenWaitsForTheCluster(t *testing.T) {
	b := bustest.New(t)
	for _, tc := range []struct {
		name      string
		stream    string
		fails     []error
		wantErr   bool
		wantCalls int
	}{
		{"answers at once", bus.StreamPages, nil, false, 1},
		{"a node lost, then a leader elected", bus.StreamPages,
			[]error{context.DeadlineExceeded, nats.ErrNoResponders, &jetstream.APIError{Code: 503, ErrorCode: 10008, Description: "JetStream cluster not available"}},
			false, 4},
		{"no such stream", "ADWATCH_NONE", nil, true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			js := &flakyJS{JetStream: b.JS, fails: tc.fails}
			c := bus.Consumer{Stream: tc.stream, Durable: "extractor", Batch: 8}
			cons, err := c.Open(ctx, js)
			if (err != nil) != tc.wantErr || js.calls != tc.wantCalls {
				t.Fatalf("Open: %v after %d calls; want error %v after %d", err, js.calls, tc.wantErr, tc.wantCalls)
			}
			if err == nil && cons.CachedInfo().Name != "extractor" {
				t.Errorf("consumer %q, want extractor", cons.CachedInfo().Name)
			}
		})
	}
}

// TestPublishWaitsForTheCluster: a page published while the cluster
// elects a leader is stored once the cluster answers, within the limit;
// a refusal or a cluster that stays away past the limit is an error.
func TestPublishWaitsForTheCluster(t *testing.T) {
	b := bustest.New(t)
	lost := []error{nats.ErrNoResponders, context.DeadlineExceeded, &jetstream.APIError{Code: 503, ErrorCode: 10008, Description: "JetStream cluster not available"}}
	for _, tc := range []struct {
		name      string
		subject   string
		fails     []error
		limit     time.Duration
		wantErr   bool
		wantCalls int
	}{
		{"answers at once", bus.SubjectPages + ".site", nil, time.Minute, false, 1},
		{"a node lost, then a leader elected", bus.SubjectPages + ".site", lost, time.Minute, false, 4},
		{"no stream for the subject", "adwatch.none", []error{&jetstream.APIError{Code: 400, ErrorCode: 10060, Description: "expected stream does not match"}}, time.Minute, true, 1},
		{"away past the limit", bus.SubjectPages + ".site", lost, 300 * time.Millisecond, true, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			js := &flakyJS{JetStream: b.JS, fails: tc.fails}
			msg := &nats.Msg{Subject: tc.subject, Data: []byte(tc.name), Header: nats.Header{}}
			msg.Header.Set(jetstream.MsgIDHeader, tc.name)
			_, err := bus.PublishMsg(ctx, js, msg, tc.limit, nil)
			if (err != nil) != tc.wantErr || js.calls != tc.wantCalls {
				t.Fatalf("PublishMsg: %v after %d calls; want error %v after %d", err, js.calls, tc.wantErr, tc.wantCalls)
			}
		})
	}
}

// TestRetry: what the cluster says while it misses a node is tried again;
// adwatch's own errors and refusals are not.
func TestRetry(t *testing.T) {
	for _, tc := range []struct {
		name      string
		errs      []error
		wantCalls int
	}{
		{"no responders, then an answer", []error{nats.ErrNoResponders, fmt.Errorf("creating key-value bucket: %w", context.DeadlineExceeded), nil}, 3},
		{"a config error of adwatch's own", []error{errors.New("audit retention under the minimum")}, 1},
		{"a refusal", []error{&jetstream.APIError{Code: 400, Description: "stream name already in use"}}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			err := bus.Retry(context.Background(), time.Minute, nil, "opening", func() error {
				calls++
				return tc.errs[calls-1]
			})
			if calls != tc.wantCalls || err != tc.errs[len(tc.errs)-1] {
				t.Errorf("Retry: %v after %d calls; want %v after %d", err, calls, tc.errs[len(tc.errs)-1], tc.wantCalls)
			}
		})
	}
}

// TestConsumerBatchEndsWithTheBurst: messages that come close together are
// one batch, handed over once the stream has been quiet for Quiet, not
// after MaxWait (here a minute); what waits in the stream comes at once in
// batches of Batch; a stage stops soon after it is cancelled, not at the
// end of its wait.
func TestConsumerBatchEndsWithTheBurst(t *testing.T) {
	b := bustest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	batches := make(chan int, 100)
	c := bus.Consumer{Stream: bus.StreamAds, Durable: "indexer", Batch: 10, MaxWait: time.Minute, Quiet: time.Second}
	rctx, rcancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- c.Run(rctx, b.JS, func(_ context.Context, msgs []jetstream.Msg) []error {
			batches <- len(msgs)
			return make([]error, len(msgs))
		})
	}()
	publish := func(n int, gap time.Duration) {
		for i := range n {
			if _, err := b.JS.Publish(ctx, bus.SubjectAds+".site", fmt.Appendf(nil, "%d", i)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(gap)
		}
	}
	next := func() int {
		t.Helper()
		select {
		case n := <-batches:
			return n
		case <-time.After(30 * time.Second):
			t.Fatal("no batch within 30 s: the batch waited for MaxWait")
			return 0
		}
	}
	time.Sleep(300 * time.Millisecond) // the consumer waiting for a first message
	publish(5, 20*time.Millisecond)
	if n := next(); n != 5 {
		t.Errorf("a burst of 5 came as a batch of %d", n)
	}
	rcancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	publish(25, 0)
	rctx, rcancel = context.WithCancel(ctx)
	defer rcancel()
	go func() {
		done <- c.Run(rctx, b.JS, func(_ context.Context, msgs []jetstream.Msg) []error {
			batches <- len(msgs)
			return make([]error, len(msgs))
		})
	}()
	var got []int
	for sum := 0; sum < 25; {
		n := next()
		got = append(got, n)
		sum += n
	}
	if !slices.Equal(got, []int{10, 10, 5}) {
		t.Errorf("25 waiting messages came in batches %v, want [10 10 5]", got)
	}
	time.Sleep(300 * time.Millisecond)
	stopped := time.Now()
	rcancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if d := time.Since(stopped); d > 10*time.Second {
		t.Errorf("the consumer stopped %v after it was cancelled, waiting out its fetch", d)
	}
}

// TestConsumerWorkersKeepTheOrder: with Workers, several batches are
// handled at once (a slow one does not hold the next back), yet what the
// handlers do with InOrder follows the stream's order, a handler that
// never takes its turn holds none back for good, and every message is
// handled once.
func TestConsumerWorkersKeepTheOrder(t *testing.T) {
	b := bustest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const n = 200
	for i := range n {
		if _, err := b.JS.Publish(ctx, bus.SubjectAds+".site", fmt.Appendf(nil, "%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	var order []int       // the messages as the handlers' InOrder saw them
	busy, most := 0, 0    // handlers at work at once
	seen := map[int]int{} // handled how often
	c := bus.Consumer{Stream: bus.StreamAds, Durable: "extractor", Batch: 7, MaxWait: 200 * time.Millisecond, Workers: 3}
	rctx, rcancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- c.Run(rctx, b.JS, func(hctx context.Context, msgs []jetstream.Msg) []error {
			mu.Lock()
			busy++
			most = max(most, busy)
			mu.Unlock()
			// The work before the turn takes longer for some batches.
			time.Sleep(time.Duration(len(msgs)%3) * 15 * time.Millisecond)
			first, _ := strconv.Atoi(string(msgs[0].Data()))
			if first%5 == 0 { // some handlers never take their turn
				mu.Lock()
				for _, m := range msgs {
					v, _ := strconv.Atoi(string(m.Data()))
					seen[v]++
				}
				busy--
				mu.Unlock()
				return make([]error, len(msgs))
			}
			bus.InOrder(hctx, func() {
				mu.Lock()
				defer mu.Unlock()
				for _, m := range msgs {
					v, err := strconv.Atoi(string(m.Data()))
					if err != nil {
						t.Error(err)
					}
					order = append(order, v)
					seen[v]++
				}
			})
			mu.Lock()
			busy--
			mu.Unlock()
			return make([]error, len(msgs))
		})
	}()
	for {
		mu.Lock()
		k := len(seen)
		mu.Unlock()
		if k == n {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("%d of %d messages handled", k, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	rcancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.IsSorted(order) || len(order) == 0 || len(order) > n {
		t.Errorf("InOrder saw %d messages out of the stream's order: %v", len(order), order)
	}
	if most < 2 {
		t.Errorf("at most %d batch handled at once with 3 workers", most)
	}
	for v, k := range seen {
		if k != 1 {
			t.Errorf("message %d handled %d times", v, k)
		}
	}
}
