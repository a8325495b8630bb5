package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// ErrPoison marks a message that can never be processed (it does not
// decode, say). The consumer loop sends it to the dead letters at once
// instead of redelivering it; it stays in its own stream too.
var ErrPoison = errors.New("unprocessable message")

// Handler processes a batch of messages and returns one error per message:
// nil to acknowledge it, an error wrapping ErrPoison to give up on it (a
// dead letter), any other error to have it redelivered later, up to the
// consumer's MaxDeliver deliveries, and then a dead letter.
type Handler func(ctx context.Context, msgs []jetstream.Msg) []error

// Consumer timing: a message not acknowledged within DefaultAckWait is
// delivered again (after a crash, say); while a batch is being handled
// every message of it is marked in progress every third of that, so a
// long batch never times out.
const (
	DefaultAckWait = 30 * time.Second
	// DefaultMaxDeliver is how often a failing message is tried before it
	// becomes a dead letter.
	DefaultMaxDeliver = 20
	// DefaultMaxWait is how long a fetch waits for its batch to fill.
	DefaultMaxWait = 500 * time.Millisecond
)

// Dead-letter headers: what failed, where, and why.
const (
	HeaderDeadStage   = "Adwatch-Stage"
	HeaderDeadError   = "Adwatch-Error"
	HeaderDeadSubject = "Adwatch-Subject"
	HeaderDeadStream  = "Adwatch-Stream"
	HeaderDeadSeq     = "Adwatch-Seq"
	HeaderDeadTries   = "Adwatch-Deliveries"
)

// Consumer is a durable pull consumer on one stream with a dead-letter
// path: a message that fails MaxDeliver times, or is poison, is copied to
// ADWATCH_DEAD with its stage, error and original subject, counted, and
// then terminated. A dead letter that cannot be written leaves the message
// to be redelivered: nothing is dropped without a record.
type Consumer struct {
	Stream  string
	Durable string
	// Batch is the most messages handed to the handler at once.
	Batch int
	// MaxWait is how long a batch may take to fill, from its first
	// message, before the handler is given what came; DefaultMaxWait when
	// zero. A longer wait makes larger batches of a trickle.
	MaxWait time.Duration
	// Quiet ends a batch before MaxWait when no message has come for
	// that long: the last messages of a burst are handed over when it
	// ends. A fifth of MaxWait when zero.
	Quiet time.Duration
	// Stage names the stage in dead letters and in the metric; the durable
	// name when empty.
	Stage string
	// MaxDeliver is how often a failing message is tried;
	// DefaultMaxDeliver when zero.
	MaxDeliver int
	// AckWait is how long a delivered message may go unacknowledged
	// before it is delivered again; DefaultAckWait when zero.
	AckWait time.Duration
	// Dead counts dead letters (adwatch_dead_letters_total{stage}); nil
	// counts nothing.
	Dead prometheus.Counter
	// Log receives what the loop cannot hand to the handler (a failed
	// fetch or acknowledgement) and every dead letter; nil discards it.
	Log *slog.Logger
	// Workers is how many batches are handled at once; one when zero.
	// Batches are fetched one at a time, in the stream's order, so that
	// one worker fetches and handles a batch while another finishes its
	// own; what a handler must do in the stream's order (publishing what
	// it made of the batch, say) it does with InOrder.
	Workers int
}

// turn orders the batches of a Consumer with Workers: a batch's turn comes
// when the batch fetched before it has had its own.
type turn struct {
	prev <-chan struct{} // closed when the earlier batch's turn is over; nil for the first
	done chan struct{}
	once sync.Once
}

type turnKey struct{}

// wait returns when the earlier batch's turn is over.
func (t *turn) wait() {
	if t.prev != nil {
		<-t.prev
	}
}

// finish ends t's turn, after the earlier batch's.
func (t *turn) finish() {
	t.once.Do(func() {
		t.wait()
		close(t.done)
	})
}

// InOrder runs f in the turn of the batch that ctx was handed with: after
// the batches fetched before it have run theirs (or their handlers have
// returned without), and before the batches fetched after it run theirs.
// A handler calls it once, or not at all, with the context it was given
// or one derived from it; with another context (outside a Consumer) it
// runs f at once.
func InOrder(ctx context.Context, f func()) {
	t, _ := ctx.Value(turnKey{}).(*turn)
	if t == nil {
		f()
		return
	}
	t.wait()
	defer t.finish()
	f()
}

// NewDeadLetterCounter registers (once per registry) and returns the
// dead-letter counter of stage: adwatch_dead_letters_total{stage}.
func NewDeadLetterCounter(reg prometheus.Registerer, stage string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{
		Name:        "adwatch_dead_letters_total",
		Help:        "Messages a stage gave up on, moved to the ADWATCH_DEAD stream.",
		ConstLabels: prometheus.Labels{"stage": stage},
	})
	if reg == nil {
		return c
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			return are.ExistingCollector.(prometheus.Counter)
		}
		panic(err)
	}
	return c
}

func (c Consumer) log() *slog.Logger {
	if c.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Log
}

func (c Consumer) stage() string {
	if c.Stage != "" {
		return c.Stage
	}
	return c.Durable
}

func (c Consumer) ackWait() time.Duration {
	if c.AckWait > 0 {
		return c.AckWait
	}
	return DefaultAckWait
}

func (c Consumer) maxWait() time.Duration {
	if c.MaxWait > 0 {
		return c.MaxWait
	}
	return DefaultMaxWait
}

func (c Consumer) quiet() time.Duration {
	if c.Quiet > 0 {
		return min(c.Quiet, c.maxWait())
	}
	return c.maxWait() / 5
}

func (c Consumer) maxDeliver() int {
	if c.MaxDeliver > 0 {
		return c.MaxDeliver
	}
	return DefaultMaxDeliver
}

// Open creates (or finds and updates) the durable consumer. The server
// redelivers without limit: the loop itself decides when a message is a
// dead letter, so none is abandoned without one.
func (c Consumer) Open(ctx context.Context, js jetstream.JetStream) (jetstream.Consumer, error) {
	return CreateConsumer(ctx, js, c.Stream, jetstream.ConsumerConfig{
		Durable:       c.Durable,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       c.ackWait(),
		MaxDeliver:    -1,
		MaxAckPending: 4 * max(c.Batch, 1),
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}, c.log())
}

// Transient reports whether err is one a cluster gives while it elects a
// leader or misses a node (a timeout, no responders, a 5xx API error)
// rather than a refusal (a 4xx: no such stream, a conflicting config) or
// an error of adwatch's own.
func Transient(err error) bool {
	var api *jetstream.APIError
	if errors.As(err, &api) {
		return api.Code >= 500
	}
	for _, e := range []error{context.DeadlineExceeded, nats.ErrTimeout, nats.ErrNoResponders, jetstream.ErrNoStreamResponse,
		nats.ErrConnectionReconnecting, nats.ErrDisconnected} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// Retry calls f until it succeeds, fails with an error that is not
// Transient, ctx is done, or limit (0: none) has passed; log (may be nil)
// receives each retry of what.
func Retry(ctx context.Context, limit time.Duration, log *slog.Logger, what string, f func() error) error {
	deadline := time.Now().Add(limit)
	wait := 200 * time.Millisecond
	for {
		err := f()
		if err == nil || ctx.Err() != nil || !Transient(err) || (limit > 0 && time.Now().Add(wait).After(deadline)) {
			return err
		}
		if log != nil {
			log.Warn(what+" failed; trying again", "wait", wait, "err", err)
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// PublishMsg publishes msg, which must carry a message id
// (jetstream.MsgIDHeader) so that a publication tried twice is stored
// once, trying again for up to limit while the cluster answers as one
// that has lost a node or elects a leader; log (may be nil) receives
// each retry.
func PublishMsg(ctx context.Context, js jetstream.JetStream, msg *nats.Msg, limit time.Duration, log *slog.Logger) (*jetstream.PubAck, error) {
	var ack *jetstream.PubAck
	err := Retry(ctx, limit, log, "publishing on "+msg.Subject, func() error {
		var err error
		ack, err = js.PublishMsg(ctx, msg)
		return err
	})
	return ack, err
}

// CreateConsumer creates (or finds and updates) a durable consumer of
// stream, trying again while the answer is one a cluster gives while it
// elects a leader or misses a node (a timeout, no responders, a 5xx API
// error), so that a stage starting then waits instead of stopping its
// process. A request the server refuses (a 4xx: no such stream, a
// conflicting config) fails at once. log (may be nil) receives each retry.
func CreateConsumer(ctx context.Context, js jetstream.JetStream, stream string, cfg jetstream.ConsumerConfig, log *slog.Logger) (jetstream.Consumer, error) {
	var cons jetstream.Consumer
	err := Retry(ctx, 0, log, "creating consumer "+cfg.Durable+" on "+stream, func() error {
		var err error
		cons, err = js.CreateOrUpdateConsumer(ctx, stream, cfg)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("creating consumer %s on %s: %w", cfg.Durable, stream, err)
	}
	return cons, nil
}

// Run fetches batches until ctx is done and hands them to h, then
// acknowledges each message as h says.
func (c Consumer) Run(ctx context.Context, js jetstream.JetStream, h Handler) error {
	cons, err := c.Open(ctx, js)
	if err != nil {
		return err
	}
	var o order
	var wg sync.WaitGroup
	for range max(c.Workers, 1) {
		wg.Go(func() { c.loop(ctx, js, cons, h, &o) })
	}
	wg.Wait()
	return nil
}

// order hands out the turns of a Consumer's batches in the order they
// are fetched, one fetch at a time.
type order struct {
	mu   sync.Mutex
	last chan struct{} // the latest batch's turn's end
}

// next fetches the next batch and its turn.
func (o *order) next(ctx context.Context, c Consumer, cons jetstream.Consumer) ([]jetstream.Msg, *turn, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	msgs, err := c.next(ctx, cons)
	if len(msgs) == 0 {
		return msgs, nil, err
	}
	t := &turn{prev: o.last, done: make(chan struct{})}
	o.last = t.done
	return msgs, t, err
}

// loop is Run's fetch-handle-acknowledge loop, one of Workers; o orders
// the batches.
func (c Consumer) loop(ctx context.Context, js jetstream.JetStream, cons jetstream.Consumer, h Handler, o *order) {
	for ctx.Err() == nil {
		msgs, t, err := o.next(ctx, c, cons)
		if err != nil && len(msgs) == 0 {
			if ctx.Err() != nil {
				return
			}
			c.log().Warn("fetching from the stream failed; trying again", "stream", c.Stream, "consumer", c.Durable, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		if len(msgs) == 0 {
			continue
		}
		errs := c.handle(ctx, msgs, h, t)
		for i, m := range msgs {
			var e error
			if i < len(errs) {
				e = errs[i]
			}
			c.settle(ctx, js, m, e)
		}
		// One round trip for the batch's acknowledgements, not one per
		// message: the server has them before the next fetch.
		if err := flush(ctx, js); err != nil && ctx.Err() == nil {
			c.log().Warn("sending the acknowledgements failed; their messages will come again",
				"stream", c.Stream, "stage", c.stage(), "err", err)
		}
	}
}

// next returns the next batch: up to Batch messages, those waiting at
// once, else the first to come within MaxWait; then what more comes until
// the batch is full, MaxWait has passed since it began, or nothing has
// come for Quiet. A fetch that fails once the batch has messages ends it
// with them, and fails again at the next call if the failure lasts. The
// wait for a first message is asked of the server a tenth of a second at
// a time, so that a stage stops soon after ctx is done: a fetch cannot be
// cut short without leaving what the server sent it unread until AckWait
// has passed.
func (c Consumer) next(ctx context.Context, cons jetstream.Consumer) ([]jetstream.Msg, error) {
	batch, quiet := max(c.Batch, 1), c.quiet()
	var msgs []jetstream.Msg
	fetch := func(n int, wait time.Duration) (int, error) {
		mb, err := cons.Fetch(n, jetstream.FetchMaxWait(wait))
		if err != nil {
			return 0, err
		}
		k := 0
		for m := range mb.Messages() {
			msgs = append(msgs, m)
			k++
		}
		// A fetch that ended badly (the consumer gone, heartbeats
		// missed) rather than by its wait.
		return k, mb.Error()
	}
	n, err := fetch(batch, quiet)
	// Nothing waiting: one message ends the wait.
	for deadline := time.Now().Add(c.maxWait()); err == nil && n == 0 && ctx.Err() == nil; {
		left := time.Until(deadline)
		if left <= 0 {
			return nil, nil
		}
		n, err = fetch(1, min(left, firstPoll))
	}
	if len(msgs) == 0 {
		return nil, err
	}
	// A failure that lasts ends the batch at its next fetch; what came is
	// handled, and the failure comes back at the next call.
	deadline := time.Now().Add(c.maxWait())
	for len(msgs) < batch {
		left := min(time.Until(deadline), quiet)
		if left <= 0 {
			break
		}
		if n, err := fetch(batch-len(msgs), left); err != nil || n == 0 {
			break
		}
	}
	return msgs, nil
}

// firstPoll is the longest one fetch waits for the first message of a
// batch.
const firstPoll = 100 * time.Millisecond

// flush waits until the server has every message sent so far on js's
// connection, for at most ackFlushWait.
func flush(ctx context.Context, js jetstream.JetStream) error {
	ctx, cancel := context.WithTimeout(ctx, ackFlushWait)
	defer cancel()
	return js.Conn().FlushWithContext(ctx)
}

// ackFlushWait bounds the wait for a batch's acknowledgements to reach the
// server; past it they may still arrive, and if not, their messages come
// again after AckWait.
const ackFlushWait = 10 * time.Second

// handle runs h on msgs in turn t, marking them in progress every third
// of AckWait until it returns and t is over: a handler that did not take
// its turn waits there for the batches before it, its messages still in
// progress.
func (c Consumer) handle(ctx context.Context, msgs []jetstream.Msg, h Handler, t *turn) []error {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(c.ackWait() / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				for _, m := range msgs {
					_ = m.InProgress()
				}
			}
		}
	})
	defer func() { close(done); wg.Wait() }()
	defer t.finish()
	return h(context.WithValue(ctx, turnKey{}, t), msgs)
}

// settle acknowledges m as its error says, without waiting for the
// server's answer (Run flushes the batch's acknowledgements together). A
// lost acknowledgement is not fatal: the message comes again after
// AckWait, and every stage handles a message twice as once.
func (c Consumer) settle(ctx context.Context, js jetstream.JetStream, m jetstream.Msg, e error) {
	var err error
	switch {
	case e == nil:
		err = m.Ack()
	case errors.Is(e, ErrPoison) || deliveries(m) >= c.maxDeliver():
		if derr := c.deadLetter(ctx, js, m, e); derr != nil {
			c.log().Error("a message could not be moved to the dead letters; it will be tried again",
				"stream", c.Stream, "stage", c.stage(), "err", derr)
			err = m.NakWithDelay(5 * time.Second)
			break
		}
		err = m.Term()
	default:
		err = m.NakWithDelay(backoff(deliveries(m)))
	}
	if err != nil && ctx.Err() == nil {
		c.log().Warn("acknowledging a message failed; it will come again", "stream", c.Stream, "stage", c.stage(), "err", err)
	}
}

// backoff is the wait before delivery n+1 of a failing message: one
// second, doubling, at most a minute.
func backoff(n int) time.Duration {
	return min(time.Second<<min(max(n-1, 0), 6), time.Minute)
}

// deliveries is how often m has been delivered (1 the first time).
func deliveries(m jetstream.Msg) int {
	md, err := m.Metadata()
	if err != nil {
		return 1
	}
	return int(md.NumDelivered)
}

// deadLetter copies m to ADWATCH_DEAD with its stage, error, original
// subject, stream sequence and deliveries.
func (c Consumer) deadLetter(ctx context.Context, js jetstream.JetStream, m jetstream.Msg, cause error) error {
	var seq uint64
	if md, err := m.Metadata(); err == nil {
		seq = md.Sequence.Stream
	}
	msg := &nats.Msg{Subject: SubjectDead + "." + KeyToken(c.stage()), Data: m.Data(), Header: nats.Header{}}
	msg.Header.Set(HeaderDeadStage, c.stage())
	msg.Header.Set(HeaderDeadError, truncate(cause.Error(), 2000))
	msg.Header.Set(HeaderDeadSubject, m.Subject())
	msg.Header.Set(HeaderDeadStream, c.Stream)
	msg.Header.Set(HeaderDeadSeq, strconv.FormatUint(seq, 10))
	msg.Header.Set(HeaderDeadTries, strconv.Itoa(deliveries(m)))
	// Once per original message, even if the loop dies before Term.
	msg.Header.Set(jetstream.MsgIDHeader, "dead/"+c.Stream+"/"+c.Durable+"/"+strconv.FormatUint(seq, 10))
	if _, err := js.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("publishing dead letter: %w", err)
	}
	if c.Dead != nil {
		c.Dead.Inc()
	}
	c.log().Error("message moved to the dead letters", "stage", c.stage(), "stream", c.Stream, "seq", seq,
		"deliveries", deliveries(m), "err", cause)
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
