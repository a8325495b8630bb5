// Package bus is adwatch's plumbing on NATS JetStream: the embedded server,
// the streams, key-value buckets and object store the stages share, and a
// pull-consumer loop with explicit acknowledgement.
//
// Subjects and streams:
//
//	adwatch.pages.<site>     stream ADWATCH_PAGES     crawler   -> extractor
//	adwatch.ads.<site>       stream ADWATCH_ADS       extractor -> indexer
//	adwatch.profiles.update  stream ADWATCH_PROFILES  indexer   -> alerts
//
// Buckets: object store adwatch_images (image bytes by SHA-256), key-value
// adwatch_crawl (the SHA-256 of each ad page last published, by URL),
// adwatch_imagehash (perceptual hash by image SHA-256), adwatch_alerts
// (alert state by rule and entity), adwatch_watchlist (what investigators
// watch for) and adwatch_digests (what each unit was sent). Stream
// ADWATCH_OUTBOX is the durable queue of digests to deliver; stream
// ADWATCH_DEAD holds the dead letters (adwatch.dead.<stage>).
package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Stream, subject and bucket names.
const (
	StreamPages    = "ADWATCH_PAGES"
	StreamAds      = "ADWATCH_ADS"
	StreamProfiles = "ADWATCH_PROFILES"

	SubjectPages          = "adwatch.pages"
	SubjectAds            = "adwatch.ads"
	SubjectProfileUpdates = "adwatch.profiles.update"

	BucketImages    = "adwatch_images"
	BucketCrawl     = "adwatch_crawl"
	BucketImageHash = "adwatch_imagehash"
	BucketAlerts    = "adwatch_alerts"
	BucketWatchlist = "adwatch_watchlist"
	BucketDigests   = "adwatch_digests"

	StreamOutbox  = "ADWATCH_OUTBOX"
	SubjectOutbox = "adwatch.outbox"

	// StreamDead holds the dead letters: messages a stage gave up on,
	// with the stage, the error and the original subject
	// (adwatch.dead.<stage>).
	StreamDead  = "ADWATCH_DEAD"
	SubjectDead = "adwatch.dead"

	// StreamPasses holds what each complete crawl of a site found
	// (record.SitePass on adwatch.passes.<site>): the indexer marks the
	// ads no longer found as gone.
	StreamPasses  = "ADWATCH_PASSES"
	SubjectPasses = "adwatch.passes"
)

// MaxMessageBytes is the largest message the embedded server takes, and
// the largest page on the pages stream: an ad page of up to 5 MiB travels
// base64 in JSON, about 7 MiB, far over NATS's default 1 MiB payload. An
// external NATS server needs max_payload set as high (docs/architecture.md).
const MaxMessageBytes = 16 << 20

// DedupWindow is how long JetStream remembers a message ID; a page published
// twice within it is stored once. Beyond it the crawler's own record of
// published pages (BucketCrawl) prevents duplicates.
const DedupWindow = 24 * time.Hour

// Embedded starts a NATS server with JetStream storing under dir, listening
// on a random loopback port; with a token, every client must give it.
// Shut it down with Shutdown and WaitForShutdown.
func Embedded(dir string, syncAlways bool, token string, log *slog.Logger) (*server.Server, error) {
	opts := &server.Options{
		ServerName:    "adwatch-embedded",
		Host:          "127.0.0.1",
		Port:          server.RANDOM_PORT,
		JetStream:     true,
		StoreDir:      filepath.Join(dir, "nats"),
		NoSigs:        true,
		MaxPayload:    MaxMessageBytes,
		NoLog:         true,
		SyncAlways:    syncAlways,
		Authorization: token,
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("creating embedded nats server: %w", err)
	}
	if log != nil {
		// The server's own warnings and errors (a disk near full, a
		// store it cannot write) go to the process log.
		opts.NoLog = false
		ns.SetLoggerV2(serverLog{log.With("component", "nats")}, false, false, false)
	}
	ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("embedded nats server not ready after 30s")
	}
	return ns, nil
}

// serverLog passes the embedded server's log to slog: notices at debug
// level, warnings and errors as they are.
type serverLog struct{ log *slog.Logger }

func (l serverLog) Noticef(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l serverLog) Warnf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	if strings.HasPrefix(msg, "Maximum payloads over") {
		// adwatch sets the 16 MiB payload on purpose (MaxMessageBytes).
		l.log.Debug(msg)
		return
	}
	l.log.Warn(msg)
}
func (l serverLog) Fatalf(format string, v ...any) { l.log.Error(fmt.Sprintf(format, v...)) }
func (l serverLog) Errorf(format string, v ...any) { l.log.Error(fmt.Sprintf(format, v...)) }
func (l serverLog) Debugf(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l serverLog) Tracef(string, ...any)          {}

// Bus is a connection to JetStream with the shared streams and buckets,
// each named for what it holds. The composition root hands each stage only
// the ones it uses.
type Bus struct {
	NC *nats.Conn
	JS jetstream.JetStream
	// Images holds the ads' image bytes by SHA-256 (object store).
	Images jetstream.ObjectStore
	// PageSums holds the SHA-256 of each ad page last published, by URL.
	PageSums jetstream.KeyValue
	// ImageHashes caches each image's perceptual hashes by SHA-256.
	ImageHashes jetstream.KeyValue
	// Alerts holds the alerts, one per rule and entity.
	Alerts jetstream.KeyValue
	// Watchlist holds what investigators watch for.
	Watchlist jetstream.KeyValue
	// Digests records, per unit, the alerts already sent and the last
	// digest time.
	Digests jetstream.KeyValue
}

// Credentials authenticate a client to NATS; the zero value is none.
type Credentials struct {
	Token, User, Password string
	// CredsFile is a NATS credentials file (JWT and NKey seed).
	CredsFile string
}

// options are the connection options of c.
func (c Credentials) options() []nats.Option {
	var o []nats.Option
	if c.Token != "" {
		o = append(o, nats.Token(c.Token))
	}
	if c.User != "" {
		o = append(o, nats.UserInfo(c.User, c.Password))
	}
	if c.CredsFile != "" {
		o = append(o, nats.UserCredentials(c.CredsFile))
	}
	return o
}

// Connect connects to url with creds and makes sure every stream and
// bucket exists with the given replica count.
func Connect(ctx context.Context, url string, replicas int, creds Credentials) (*Bus, error) {
	nc, err := nats.Connect(url, append([]nats.Option{nats.Name("adwatch"), nats.MaxReconnects(-1)}, creds.options()...)...)
	if err != nil {
		return nil, fmt.Errorf("connecting to nats at %s: %w", url, err)
	}
	// A cluster that has just started may not have elected its leaders
	// yet, and several processes may create the same streams at once:
	// retry for a while before giving up.
	var b *Bus
	for attempt := 0; ; attempt++ {
		b, err = setup(ctx, nc, replicas)
		if err == nil {
			return b, nil
		}
		if attempt == 30 || ctx.Err() != nil {
			nc.Close()
			return nil, err
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func setup(ctx context.Context, nc *nats.Conn, replicas int) (*Bus, error) {
	if replicas < 1 {
		replicas = 1
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("opening jetstream: %w", err)
	}
	for _, sc := range []jetstream.StreamConfig{
		{Name: StreamPages, Subjects: []string{SubjectPages + ".>"}, MaxMsgSize: MaxMessageBytes},
		{Name: StreamAds, Subjects: []string{SubjectAds + ".>"}, MaxMsgSize: 8 << 20},
		{Name: StreamProfiles, Subjects: []string{"adwatch.profiles.>"}},
		{Name: StreamOutbox, Subjects: []string{SubjectOutbox + ".>"}, Retention: jetstream.WorkQueuePolicy},
		{Name: StreamDead, Subjects: []string{SubjectDead + ".>"}, MaxMsgSize: MaxMessageBytes},
		{Name: StreamPasses, Subjects: []string{SubjectPasses + ".>"}, MaxMsgSize: MaxMessageBytes},
	} {
		sc.Storage = jetstream.FileStorage
		sc.Duplicates = DedupWindow
		sc.Replicas = replicas
		if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
			return nil, fmt.Errorf("creating stream %s: %w", sc.Name, err)
		}
	}
	b := &Bus{NC: nc, JS: js}
	if b.Images, err = js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket: BucketImages, Storage: jetstream.FileStorage, Replicas: replicas,
	}); err != nil {
		return nil, fmt.Errorf("creating object store %s: %w", BucketImages, err)
	}
	kv := func(name string) (jetstream.KeyValue, error) {
		k, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket: name, Storage: jetstream.FileStorage, Replicas: replicas,
		})
		if err != nil {
			return nil, fmt.Errorf("creating key-value bucket %s: %w", name, err)
		}
		return k, nil
	}
	if b.PageSums, err = kv(BucketCrawl); err != nil {
		return nil, err
	}
	if b.ImageHashes, err = kv(BucketImageHash); err != nil {
		return nil, err
	}
	if b.Alerts, err = kv(BucketAlerts); err != nil {
		return nil, err
	}
	if b.Watchlist, err = kv(BucketWatchlist); err != nil {
		return nil, err
	}
	if b.Digests, err = kv(BucketDigests); err != nil {
		return nil, err
	}
	return b, nil
}

// GetConsistent reads key from kv, asking the bucket's leader
// (LeaderGet) when a replica says it is not there: for the reads that must
// see a key just written. js may be nil (no second ask).
func GetConsistent(ctx context.Context, js jetstream.JetStream, kv jetstream.KeyValue, key string) ([]byte, uint64, error) {
	e, err := kv.Get(ctx, key)
	if err == nil {
		return e.Value(), e.Revision(), nil
	}
	if !errors.Is(err, jetstream.ErrKeyNotFound) || js == nil {
		return nil, 0, err
	}
	return LeaderGet(ctx, js, kv.Bucket(), key)
}

// LeaderGet reads the value of key in the key-value bucket from its
// stream's leader. A bucket answers reads from any of its replicas (direct
// get), and a replica a moment behind, or one that has not caught up after
// a restart, answers "not found" for a key just written: where that would
// do harm (a session just opened refused, a digest sent twice), a "not
// found" is asked of the leader before it is believed. It returns the
// value and its revision, or jetstream.ErrKeyNotFound when the leader has
// no value (or a deleted one).
func LeaderGet(ctx context.Context, js jetstream.JetStream, bucket, key string) ([]byte, uint64, error) {
	req, err := json.Marshal(map[string]string{"last_by_subj": "$KV." + bucket + "." + key})
	if err != nil {
		return nil, 0, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
	}
	msg, err := js.Conn().RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET.KV_"+bucket, req)
	if err != nil {
		return nil, 0, fmt.Errorf("reading %s from the leader of bucket %s: %w", key, bucket, err)
	}
	var resp struct {
		Message *struct {
			Seq    uint64 `json:"seq"`
			Header []byte `json:"hdrs"`
			Data   []byte `json:"data"`
		} `json:"message"`
		Error *struct {
			Code        int    `json:"code"`
			ErrCode     int    `json:"err_code"`
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return nil, 0, fmt.Errorf("reading %s from the leader of bucket %s: %w", key, bucket, err)
	}
	switch {
	case resp.Error != nil && resp.Error.Code == 404:
		return nil, 0, jetstream.ErrKeyNotFound
	case resp.Error != nil:
		return nil, 0, fmt.Errorf("reading %s from the leader of bucket %s: %s", key, bucket, resp.Error.Description)
	case resp.Message == nil:
		return nil, 0, jetstream.ErrKeyNotFound
	}
	if h := string(resp.Message.Header); strings.Contains(h, "KV-Operation: DEL") || strings.Contains(h, "KV-Operation: PURGE") {
		return nil, 0, jetstream.ErrKeyNotFound
	}
	return resp.Message.Data, resp.Message.Seq, nil
}

// LeaderKeys lists the keys of the key-value bucket kv as its stream's
// leader knows them, sorted. A listing through kv.ListKeys reads an
// ordered consumer that the cluster may place on a replica still catching
// up after a restart, which leaves out the keys written meanwhile; the
// leader's stream info counts every subject. The list may name keys whose
// last operation was a delete or purge: read each with GetConsistent and
// skip those not found. With js nil it falls back to kv.ListKeys.
func LeaderKeys(ctx context.Context, js jetstream.JetStream, kv jetstream.KeyValue) ([]string, error) {
	if js == nil {
		kl, err := kv.ListKeys(ctx)
		if errors.Is(err, jetstream.ErrNoKeysFound) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("listing the keys of %s: %w", kv.Bucket(), err)
		}
		var keys []string
		for k := range kl.Keys() {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return keys, nil
	}
	st, err := js.Stream(ctx, "KV_"+kv.Bucket())
	if err != nil {
		return nil, fmt.Errorf("listing the keys of %s: %w", kv.Bucket(), err)
	}
	prefix := "$KV." + kv.Bucket() + "."
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(prefix+">"))
	if err != nil {
		return nil, fmt.Errorf("listing the keys of %s: %w", kv.Bucket(), err)
	}
	keys := make([]string, 0, len(info.State.Subjects))
	for subj := range info.State.Subjects {
		keys = append(keys, strings.TrimPrefix(subj, prefix))
	}
	slices.Sort(keys)
	return keys, nil
}

// Close drains the connection.
func (b *Bus) Close() {
	if b != nil && b.NC != nil {
		_ = b.NC.Drain()
	}
}

// TrackLag sets set to the durable consumer's pending count every two
// seconds until ctx is done.
func TrackLag(ctx context.Context, js jetstream.JetStream, stream, durable string, set func(float64)) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := Pending(ctx, js, stream, durable); err == nil {
				set(float64(n))
			}
		}
	}
}

// Pending returns the messages of the stream not yet acknowledged by the
// durable consumer (waiting plus in flight). A consumer that does not exist
// yet counts the whole stream.
func Pending(ctx context.Context, js jetstream.JetStream, stream, durable string) (uint64, error) {
	cons, err := js.Consumer(ctx, stream, durable)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		s, err := js.Stream(ctx, stream)
		if err != nil {
			return 0, fmt.Errorf("looking up stream %s: %w", stream, err)
		}
		return s.CachedInfo().State.Msgs, nil
	}
	if err != nil {
		return 0, fmt.Errorf("looking up consumer %s: %w", durable, err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("reading consumer %s: %w", durable, err)
	}
	return info.NumPending + uint64(info.NumAckPending), nil
}

// Limits caps the streams and the image store, in bytes; zero leaves one
// unlimited. A full stream refuses new messages (it never drops old
// ones: they are evidence), and its writers pause.
type Limits struct {
	Pages, Ads, Images, Dead int64
}

// ApplyLimits sets l on the streams and the image store.
func (b *Bus) ApplyLimits(ctx context.Context, l Limits) error {
	for stream, max := range map[string]int64{StreamPages: l.Pages, StreamAds: l.Ads, StreamDead: l.Dead} {
		if max == 0 {
			continue
		}
		s, err := b.JS.Stream(ctx, stream)
		if err != nil {
			return fmt.Errorf("opening stream %s: %w", stream, err)
		}
		cfg := s.CachedInfo().Config
		cfg.MaxBytes, cfg.Discard = max, jetstream.DiscardNew
		if _, err := b.JS.UpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("limiting stream %s to %d bytes: %w", stream, max, err)
		}
	}
	if l.Images > 0 {
		st, err := b.Images.Status(ctx)
		if err != nil {
			return fmt.Errorf("reading the image store: %w", err)
		}
		if _, err := b.JS.UpdateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: BucketImages, Storage: jetstream.FileStorage,
			Replicas: st.Replicas(), MaxBytes: l.Images}); err != nil {
			return fmt.Errorf("limiting the image store to %d bytes: %w", l.Images, err)
		}
	}
	return nil
}

// StorageFull reports whether err is JetStream refusing a write for want
// of room: a stream at its limit, or the server's store full.
func StorageFull(err error) bool {
	if err == nil {
		return false
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode {
		case 10023 /* insufficient resources */, 10077 /* store failed */ :
			return true
		}
	}
	msg := err.Error()
	return strings.Contains(msg, "maximum bytes exceeded") || strings.Contains(msg, "insufficient resources") ||
		strings.Contains(msg, "no space left")
}
