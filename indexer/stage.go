package indexer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/adwatch/adwatch/internal/bus"
	"github.com/adwatch/adwatch/internal/record"
)

// Metrics are the indexer's Prometheus metrics.
type Metrics struct {
	Indexed prometheus.Counter
	Errors  *prometheus.CounterVec
	Latency prometheus.Histogram
	Lag     prometheus.Gauge
	// Dead counts the ads given up on (adwatch_dead_letters_total).
	Dead prometheus.Counter
}

// NewMetrics registers the indexer's metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Indexed: prometheus.NewCounter(prometheus.CounterOpts{Name: "adwatch_indexer_ads_indexed_total", Help: "Ads indexed (new or changed)."}),
		Errors:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "adwatch_indexer_errors_total", Help: "Indexer errors by kind."}, []string{"kind"}),
		Latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "adwatch_indexer_batch_seconds", Help: "Time to index and link one batch.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
		Lag:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "adwatch_indexer_consumer_lag", Help: "Ads waiting for the indexer."}),
		Dead: bus.NewDeadLetterCounter(reg, "indexer"),
	}
	if reg != nil {
		reg.MustRegister(m.Indexed, m.Errors, m.Latency, m.Lag)
	}
	return m
}

// Stage is the indexer stage: ads stream in, profile updates out.
type Stage struct {
	Index *Index
	// JS reads the ads and publishes the profile updates.
	JS      jetstream.JetStream
	Log     *slog.Logger
	Metrics *Metrics
	// Durable is the consumer name, "indexer" by default. Each index (each
	// data directory) needs its own.
	Durable string
	// CompactEvery is how often the shards of the months that are over
	// are merged into one file each (CompactShardsBefore), from the first
	// time this long after Run starts; 0: every hour.
	CompactEvery time.Duration
}

// Run consumes ads until ctx is done. A batch is acknowledged only after
// it is indexed and its profile updates are published.
func (s *Stage) Run(ctx context.Context) error {
	durable := s.Durable
	if durable == "" {
		durable = "indexer"
	}
	lagCtx, stopLag := context.WithCancel(ctx)
	var lag sync.WaitGroup
	lag.Go(func() { bus.TrackLag(lagCtx, s.JS, bus.StreamAds, durable, s.Metrics.Lag.Set) })
	defer func() { stopLag(); lag.Wait() }()
	// Batches of up to 1,000 ads: each batch is one index segment written
	// and synced, and fewer, larger segments leave the merger less to do.
	c := bus.Consumer{Stream: bus.StreamAds, Durable: durable, Batch: 1000, Stage: "indexer", Dead: s.Metrics.Dead, Log: s.Log}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var passes sync.WaitGroup
	var passErr error
	passes.Go(func() {
		if passErr = s.runPasses(ctx, durable); passErr != nil {
			cancel()
		}
	})
	passes.Go(func() { s.compact(ctx) })
	err := c.Run(ctx, s.JS, s.handle)
	cancel()
	passes.Wait()
	return errors.Join(err, passErr)
}

// compact merges the shards of the months that are over, every
// CompactEvery, until ctx is done: a month over takes few writes, and a
// look-up reads a dictionary a file.
func (s *Stage) compact(ctx context.Context) {
	every := s.CompactEvery
	if every <= 0 {
		every = time.Hour
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		start := time.Now()
		done, err := s.Index.CompactShardsBefore(ctx, start)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			s.Log.Warn("compacting the months that are over", "err", err)
		case len(done) > 0:
			s.Log.Info("months that are over compacted", "shards", done, "took", time.Since(start).Round(time.Millisecond))
		}
	}
}

func (s *Stage) handle(ctx context.Context, msgs []jetstream.Msg) []error {
	start := time.Now()
	errs := make([]error, len(msgs))
	ads := make([]record.Ad, 0, len(msgs))
	for i, m := range msgs {
		var a record.Ad
		if err := json.Unmarshal(m.Data(), &a); err != nil || a.ID == "" {
			if err == nil {
				err = errors.New("no ad id")
			}
			s.Metrics.Errors.WithLabelValues("decode").Inc()
			s.Log.Error("ad does not decode", "subject", m.Subject(), "err", err)
			errs[i] = fmt.Errorf("%w: decoding ad: %w", bus.ErrPoison, err)
			continue
		}
		ads = append(ads, a)
	}
	// What a failed publish or a crash left unpublished goes out with
	// this batch's updates.
	left := s.Index.Unpublished()
	changed, fresh, err := s.Index.put(ads)
	if err != nil {
		s.Metrics.Errors.WithLabelValues("index").Inc()
		s.Log.Error("batch not indexed; indexing its ads one by one", "ads", len(ads), "err", err)
		return s.oneByOne(ctx, msgs, errs)
	}
	if err := s.publish(ctx, changed, left, fresh); err != nil {
		s.Metrics.Errors.WithLabelValues("publish").Inc()
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
		return errs
	}
	s.Metrics.Indexed.Add(float64(len(ads)))
	s.Metrics.Latency.Observe(time.Since(start).Seconds())
	return errs
}

// oneByOne indexes each ad of a batch that failed as a whole on its own,
// so that one bad ad fails alone and the others go on.
func (s *Stage) oneByOne(ctx context.Context, msgs []jetstream.Msg, errs []error) []error {
	for i, m := range msgs {
		if errs[i] != nil {
			continue
		}
		var a record.Ad
		_ = json.Unmarshal(m.Data(), &a) // decoded once already
		left := s.Index.Unpublished()
		changed, fresh, err := s.Index.put([]record.Ad{a})
		if err == nil {
			err = s.publish(ctx, changed, left, fresh)
		}
		if err != nil {
			s.Metrics.Errors.WithLabelValues("index").Inc()
			errs[i] = fmt.Errorf("indexing ad: %w", err)
			continue
		}
		s.Metrics.Indexed.Inc()
	}
	return errs
}

// publish publishes the profile updates of the changed ads and of those
// left unpublished before, then empties the index's outbox. The ads just
// indexed (fresh) are taken as they are, the others read from the index.
func (s *Stage) publish(ctx context.Context, changed, left []string, fresh []*record.Ad) error {
	ids := changed
	if len(left) > 0 {
		ids = slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(changed), left...))))
	}
	if err := s.publishUpdates(ctx, ids, fresh); err != nil {
		return err
	}
	if err := s.Index.Published(); err != nil {
		return fmt.Errorf("emptying the index's outbox: %w", err)
	}
	return nil
}

// publishWindow is how many profile updates are published before their
// acknowledgements are awaited.
const publishWindow = 256

// publishAckWait is how long an acknowledged publish is waited for.
const publishAckWait = 30 * time.Second

// publishUpdates publishes the profile updates of ids, in time order (as
// GetMany returns them). The publishes are asynchronous, their
// acknowledgements awaited every publishWindow updates and at the end:
// the batch is acknowledged only once every update is stored.
func (s *Stage) publishUpdates(ctx context.Context, ids []string, fresh []*record.Ad) error {
	have := make(map[string]*record.Ad, len(fresh))
	for _, a := range fresh {
		have[a.ID] = a
	}
	var rest []string
	for _, id := range ids {
		if have[id] == nil {
			rest = append(rest, id)
		}
	}
	read, err := s.Index.GetMany(rest)
	if err != nil {
		return err
	}
	ads := make([]*record.Ad, 0, len(ids))
	for i := range read {
		ads = append(ads, &read[i])
	}
	for _, id := range ids {
		if a := have[id]; a != nil {
			ads = append(ads, a)
		}
	}
	slices.SortFunc(ads, func(a, b *record.Ad) int {
		if c := a.PostedAt.Compare(b.PostedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	var acks []jetstream.PubAckFuture
	for _, a := range ads {
		p := s.Index.Linker.Profile(a.ID)
		u := record.ProfileUpdate{Ad: a.ID, Profile: p, Network: s.Index.Linker.Network(p), Phones: a.PhoneNumbers(), Handles: a.Handles,
			City: a.City, PostedAt: a.PostedAt, Title: a.Title, Ages: a.Ages, Indicators: a.Indicators, Scores: a.Scores}
		for _, img := range a.Images {
			if img.SHA256 != "" {
				u.Images = append(u.Images, img.SHA256)
			}
			if img.PHash != "" && img.Error == "" {
				u.Photos = append(u.Photos, record.Photo{PHash: img.PHash, Crops: img.PHashCrops})
			}
		}
		u.Text = strings.ToLower(strings.Join(strings.Fields(a.Title+" "+a.Body), " "))
		data, err := json.Marshal(u)
		if err != nil {
			return fmt.Errorf("encoding profile update: %w", err)
		}
		msg := &nats.Msg{Subject: bus.SubjectProfileUpdates, Data: data, Header: nats.Header{}}
		msg.Header.Set(jetstream.MsgIDHeader, u.Ad+"/"+u.Profile)
		f, err := s.JS.PublishMsgAsync(msg)
		if err != nil {
			return fmt.Errorf("publishing profile update: %w", err)
		}
		if acks = append(acks, f); len(acks) == publishWindow {
			if err := awaitAcks(ctx, acks); err != nil {
				return err
			}
			acks = acks[:0]
		}
	}
	return awaitAcks(ctx, acks)
}

// awaitAcks waits for the acknowledgement of each publish.
func awaitAcks(ctx context.Context, acks []jetstream.PubAckFuture) error {
	timeout := time.NewTimer(publishAckWait)
	defer timeout.Stop()
	for _, f := range acks {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("publishing profile update: %w", err)
		case <-ctx.Done():
			return fmt.Errorf("publishing profile update: %w", ctx.Err())
		case <-timeout.C:
			return fmt.Errorf("publishing profile update: no acknowledgement in %v", publishAckWait)
		}
	}
	return nil
}

// rebuildStall is how long Rebuild waits for the next message of the ads
// stream before it reports the rebuild incomplete.
const rebuildStall = 30 * time.Second

// rebuildBatch is how many ads Rebuild indexes in one batch: fewer, larger
// segments than the stream's fetches of 500 leave the merger less to do
// and sync the index less often.
const rebuildBatch = 2000

// fetched is one fetch of the ads stream, decoded.
type fetched struct {
	ads  []record.Ad
	bad  int
	seq  uint64 // the last message's stream sequence
	err  error
	done bool // the last message present at the start is read
}

// Rebuild indexes every ad of the ads stream into x, from the first
// message to the last one present when it starts, calling progress (when
// not nil) after each batch with the messages read and the total. It
// fails, rather than reporting success, when the stream stops answering
// before the last message; ads that do not decode are counted in bad.
// The stream is read and decoded on a goroutine of its own while the
// ads read before are indexed.
func Rebuild(ctx context.Context, js jetstream.JetStream, x *Index, progress func(read, total uint64)) (n, bad int, err error) {
	st, err := js.Stream(ctx, bus.StreamAds)
	if err != nil {
		return 0, 0, fmt.Errorf("opening ads stream: %w", err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("reading ads stream: %w", err)
	}
	first, last, total := info.State.FirstSeq, info.State.LastSeq, info.State.Msgs
	if total == 0 {
		return 0, 0, nil
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return 0, 0, fmt.Errorf("reading ads stream: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan fetched, 2)
	var reader sync.WaitGroup
	reader.Go(func() { readAds(ctx, cons, last, batches) })
	defer reader.Wait()
	defer cancel()

	// Each batch is linked while the next one is written (write, link):
	// the linker lags the index by one batch at most, which its saved
	// state allows for (Close saves it, and a crash catches up).
	var linking sync.WaitGroup
	var linkErr error
	defer linking.Wait()
	index := func(ads []record.Ad) error {
		w, err := x.write(ads)
		linking.Wait()
		if err = errors.Join(err, linkErr); err != nil {
			return err
		}
		// A rebuild publishes nothing: every ad's update went out when
		// it was first indexed.
		if err := x.Published(); err != nil {
			return err
		}
		if w != nil {
			linking.Go(func() { _, linkErr = x.link(w, false) })
		}
		return nil
	}
	var pending []record.Ad
	var seq uint64
	for f := range batches {
		bad += f.bad
		pending = append(pending, f.ads...)
		if f.seq > seq {
			seq = f.seq
		}
		if f.err != nil {
			return n, bad, f.err
		}
		if len(pending) < rebuildBatch && !f.done {
			continue
		}
		if len(pending) > 0 {
			if err := index(pending); err != nil {
				return n, bad, err
			}
			n += len(pending)
			pending = nil
		}
		if progress != nil && seq >= first {
			progress(seq-first+1, last-first+1)
		}
		if f.done {
			linking.Wait()
			return n, bad, linkErr
		}
	}
	return n, bad, fmt.Errorf("the ads stream stopped answering at message %d of %d: the rebuild is incomplete", seq, last)
}

// readAds fetches and decodes the ads stream up to message last, sending
// each fetch to out, and closes out when it is done, fails, or ctx is.
func readAds(ctx context.Context, cons jetstream.Consumer, last uint64, out chan<- fetched) {
	defer close(out)
	send := func(f fetched) bool {
		select {
		case out <- f:
			return true
		case <-ctx.Done():
			return false
		}
	}
	var seq, prev uint64
	lastProgress := time.Now()
	for {
		mb, err := cons.Fetch(500, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			send(fetched{err: fmt.Errorf("reading ads stream: %w", err)})
			return
		}
		var f fetched
		for m := range mb.Messages() {
			if meta, err := m.Metadata(); err == nil {
				seq = meta.Sequence.Stream
			}
			var a record.Ad
			if json.Unmarshal(m.Data(), &a) == nil && a.ID != "" {
				f.ads = append(f.ads, a)
			} else {
				f.bad++
			}
		}
		f.seq = seq
		if err := mb.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			f.err = fmt.Errorf("reading ads stream at %d of %d: %w", seq, last, err)
			send(f)
			return
		}
		f.done = seq >= last
		if !send(f) || f.done {
			return
		}
		if seq != prev {
			prev, lastProgress = seq, time.Now()
		}
		if time.Since(lastProgress) > rebuildStall || ctx.Err() != nil {
			return
		}
	}
}
