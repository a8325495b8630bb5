package digest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	mail "github.com/wneessen/go-mail"

	"github.com/adwatch/adwatch/alerts"
	"github.com/adwatch/adwatch/internal/bus"
	"github.com/adwatch/adwatch/internal/record"
	"github.com/adwatch/adwatch/internal/retry"
)

// Metrics are the digest delivery's Prometheus metrics, each by unit and
// channel (email, webhook): a unit is a name from the alerts file, never a
// recipient or a webhook's address.
type Metrics struct {
	// Sent counts digests a channel accepted.
	Sent *prometheus.CounterVec
	// Failed counts delivery attempts a channel refused or that could not
	// be made (an email with no SMTP host configured).
	Failed *prometheus.CounterVec
	// Retried counts delivery attempts that are retries: the digest's
	// second delivery or later, on a channel not yet done. A retry is
	// counted here and also as sent or failed.
	Retried *prometheus.CounterVec
}

// NewMetrics registers the digest delivery's metrics on reg (nil
// registers nothing).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	labels := []string{"unit", "channel"}
	m := &Metrics{
		Sent:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "adwatch_digest_sent_total", Help: "Digests delivered, by unit and channel (email, webhook)."}, labels),
		Failed:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "adwatch_digest_failed_total", Help: "Digest delivery attempts that failed, by unit and channel."}, labels),
		Retried: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "adwatch_digest_retried_total", Help: "Digest delivery attempts that were retries, by unit and channel."}, labels),
	}
	if reg != nil {
		reg.MustRegister(m.Sent, m.Failed, m.Retried)
	}
	return m
}

// Sender delivers queued digests: it is the outbox's consumer. A digest
// is acknowledged when every channel (email, webhook) accepted it; a
// channel that accepted is recorded, so a retry after another channel
// failed does not send it twice.
type Sender struct {
	// JS reads the outbox.
	JS jetstream.JetStream
	// Delivered records each digest delivered on each channel (the
	// digests bucket).
	Delivered jetstream.KeyValue
	SMTP      alerts.SMTP
	Log       *slog.Logger
	// HTTP posts webhooks; nil means a client with a 30s timeout.
	HTTP *http.Client
	// MaxBackoff caps the wait before a retry (5 minutes by default).
	MaxBackoff time.Duration
	// Metrics counts deliveries; nil counts nothing.
	Metrics *Metrics
}

// Run delivers until ctx is done.
func (s *Sender) Run(ctx context.Context) error {
	cons, err := s.consumer(ctx)
	if err != nil {
		return err
	}
	for ctx.Err() == nil {
		if _, err := s.deliverBatch(ctx, cons); err != nil && ctx.Err() == nil {
			return err
		}
	}
	return nil
}

// Drain delivers what is queued now, retrying failures until ctx is done,
// and returns when the outbox is empty.
func (s *Sender) Drain(ctx context.Context) error {
	cons, err := s.consumer(ctx)
	if err != nil {
		return err
	}
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("delivering digests: %w", err)
		}
		if _, err := s.deliverBatch(ctx, cons); err != nil {
			return err
		}
		n, err := bus.Pending(ctx, s.JS, bus.StreamOutbox, "sender")
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
	}
}

func (s *Sender) consumer(ctx context.Context) (jetstream.Consumer, error) {
	return bus.CreateConsumer(ctx, s.JS, bus.StreamOutbox, jetstream.ConsumerConfig{
		Durable: "sender", AckPolicy: jetstream.AckExplicitPolicy, AckWait: 2 * time.Minute, MaxDeliver: -1,
	}, s.Log)
}

func (s *Sender) deliverBatch(ctx context.Context, cons jetstream.Consumer) (int, error) {
	mb, err := cons.Fetch(10, jetstream.FetchMaxWait(500*time.Millisecond))
	if err != nil {
		if ctx.Err() == nil {
			// The next batch tries again; say why this one failed.
			s.Log.Warn("fetching digests from the outbox failed; trying again", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
		return 0, nil
	}
	n := 0
	for m := range mb.Messages() {
		n++
		var d record.Digest
		if err := json.Unmarshal(m.Data(), &d); err != nil {
			s.Log.Error("digest does not decode; left in the outbox", "err", err)
			_ = m.Term()
			continue
		}
		meta, _ := m.Metadata()
		attempt := uint64(1)
		if meta != nil {
			attempt = meta.NumDelivered
		}
		if err := s.deliver(ctx, &d, attempt); err != nil {
			wait := s.backoff(attempt)
			s.Log.Warn("digest not delivered; will retry", "unit", d.Unit, "attempt", attempt, "wait", wait, "err", s.redact(err, &d))
			_ = m.NakWithDelay(wait)
			continue
		}
		if err := m.DoubleAck(ctx); err != nil {
			return n, fmt.Errorf("acknowledging digest %s: %w", d.ID, err)
		}
		s.Log.Info("digest delivered", "unit", d.Unit, "alerts", d.Total)
	}
	return n, nil
}

// redact returns err's text safe for the log: the digest's webhook URL
// (whose path or query is often its token) cut to scheme and host, and the
// SMTP password, should an error quote it, replaced.
func (s *Sender) redact(err error, d *record.Digest) string {
	text := err.Error()
	if u, perr := url.Parse(d.Webhook); perr == nil && d.Webhook != "" {
		short := u.Scheme + "://" + u.Host + "/…"
		forms := []string{d.Webhook, short, u.String(), short, u.Redacted(), short}
		if u.User != nil { // net/http's errors show the password as ***
			forms = append(forms, "//"+u.User.String()+"@", "//", "//"+u.User.Username()+":***@", "//")
		}
		text = strings.NewReplacer(forms...).Replace(text)
		if rest := u.RequestURI(); rest != "/" { // the path and query in any other spelling
			text = strings.ReplaceAll(text, rest, "/…")
		}
	}
	if pw := os.Getenv(s.SMTP.PasswordEnv); s.SMTP.PasswordEnv != "" && pw != "" {
		text = strings.ReplaceAll(text, pw, "***")
	}
	return text
}

// backoff is the wait before redelivering a digest on its delivery
// attempt (1-based): 500ms doubled per attempt, capped at MaxBackoff.
func (s *Sender) backoff(attempt uint64) time.Duration {
	limit := s.MaxBackoff
	if limit == 0 {
		limit = 5 * time.Minute
	}
	return retry.Backoff{Base: 500 * time.Millisecond, Max: limit}.Wait(int(min(attempt-1, 64)), "")
}

func deliveredKey(id, channel string) string { return "delivered." + keyPart(id) + "." + channel }

// Deliver sends d on each of its channels not yet done.
func (s *Sender) Deliver(ctx context.Context, d *record.Digest) error {
	return s.deliver(ctx, d, 1)
}

// deliver is Deliver on the digest's attempt'th delivery (1-based).
func (s *Sender) deliver(ctx context.Context, d *record.Digest, attempt uint64) error {
	m := s.Metrics
	if m == nil {
		m = NewMetrics(nil) // counted nowhere
	}
	var errs []error
	channels := map[string]func(context.Context, *record.Digest) error{}
	if len(d.Recipients) > 0 {
		if s.SMTP.Host == "" {
			errs = append(errs, errors.New("recipients set but no smtp host configured"))
			m.Failed.WithLabelValues(d.Unit, "email").Inc()
		} else {
			channels["email"] = s.email
		}
	}
	if d.Webhook != "" {
		channels["webhook"] = s.webhook
	}
	for name, send := range channels {
		key := deliveredKey(d.ID, name)
		// A "not found" from a replica a moment behind is asked of the
		// leader: believed, it would send the digest twice.
		if delivered(ctx, s.JS, s.Delivered, key) {
			continue
		}
		if attempt > 1 {
			m.Retried.WithLabelValues(d.Unit, name).Inc()
		}
		if err := send(ctx, d); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			m.Failed.WithLabelValues(d.Unit, name).Inc()
			continue
		}
		m.Sent.WithLabelValues(d.Unit, name).Inc()
		if _, err := s.Delivered.Put(ctx, key, []byte(time.Now().UTC().Format(time.RFC3339))); err != nil {
			errs = append(errs, fmt.Errorf("recording %s delivery: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// Message builds the email of d.
func (s *Sender) Message(d *record.Digest) (*mail.Msg, error) {
	m := mail.NewMsg()
	if err := m.From(s.SMTP.From); err != nil {
		return nil, fmt.Errorf("from address: %w", err)
	}
	if err := m.To(d.Recipients...); err != nil {
		return nil, fmt.Errorf("recipients: %w", err)
	}
	m.Subject(Subject(d))
	m.SetMessageIDWithValue(keyPart(d.ID) + "@adwatch")
	m.SetBodyString(mail.TypeTextPlain, Text(d))
	m.AddAlternativeString(mail.TypeTextHTML, HTML(d))
	return m, nil
}

func (s *Sender) email(ctx context.Context, d *record.Digest) error {
	m, err := s.Message(d)
	if err != nil {
		return err
	}
	opts := []mail.Option{mail.WithPort(s.SMTP.Port), mail.WithTimeout(30 * time.Second)}
	switch s.SMTP.StartTLS {
	case "none":
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	case "opportunistic":
		opts = append(opts, mail.WithTLSPolicy(mail.TLSOpportunistic))
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	}
	if s.SMTP.Username != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthPlain), mail.WithUsername(s.SMTP.Username),
			mail.WithPassword(os.Getenv(s.SMTP.PasswordEnv)))
	}
	c, err := mail.NewClient(s.SMTP.Host, opts...)
	if err != nil {
		return fmt.Errorf("creating smtp client: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, m); err != nil {
		return fmt.Errorf("sending to %s: %w", s.SMTP.Host, err)
	}
	return nil
}

// WebhookBody is the body posted for d in the unit's format.
func WebhookBody(d *record.Digest) ([]byte, error) {
	switch d.Format {
	case "slack":
		return json.Marshal(map[string]string{"text": Text(d)})
	case "teams":
		return json.Marshal(map[string]any{"@type": "MessageCard", "@context": "https://schema.org/extensions",
			"summary": Subject(d), "title": Subject(d), "text": "<pre>" + Text(d) + "</pre>"})
	}
	return json.Marshal(d)
}

func (s *Sender) webhook(ctx context.Context, d *record.Digest) error {
	body, err := WebhookBody(d)
	if err != nil {
		return fmt.Errorf("encoding webhook: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.Webhook, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", d.ID)
	client := s.HTTP
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("posting webhook: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return nil
}

// Scheduler queues each unit's digest at its scheduled time.
//
// A digest whose time passed while no scheduler ran (a stop, a crash, a
// deploy) is queued at the next check, once, for the latest time passed.
// Its id comes from the unit and the scheduled time, so queueing it again
// after a crash between the outbox and the record of it is one message
// (the outbox's duplicate window) and one delivery (Sender's record).
// A digest that cannot be built or queued at its time (the NATS cluster
// electing a leader, the figures out of reach) is tried again at each
// check; one built but not queued is queued as built.
type Scheduler struct {
	Outbox Outbox
	Units  []alerts.Unit
	WebURL string
	Snap   Snapshotter
	Log    *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Every is the time between checks; 0 means 30 seconds.
	Every time.Duration

	// built are the digests built but not yet queued, by unit.
	built map[string]*record.Digest
	// floor is, per unit never sent a digest, the scheduled time before
	// which none is due: the one passed when this scheduler started.
	floor map[string]time.Time
}

// Run checks the schedules at start and then every Every until ctx is
// done.
func (s *Scheduler) Run(ctx context.Context) error {
	now := s.Now
	if now == nil {
		now = time.Now
	}
	every := s.Every
	if every == 0 {
		every = 30 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		s.Check(ctx, now())
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Check queues the digest of each unit whose scheduled time has come by
// now and who has not had the digest of that time.
func (s *Scheduler) Check(ctx context.Context, now time.Time) {
	if s.floor == nil {
		s.floor, s.built = map[string]time.Time{}, map[string]*record.Digest{}
	}
	for i := range s.Units {
		u := &s.Units[i]
		due := u.NextRun(now).AddDate(0, 0, -1) // the latest scheduled time at or before now
		var last time.Time
		value, err := getFromLeader(ctx, s.Outbox.JS, s.Outbox.Sent, lastKey(u.Name))
		switch {
		case err == nil:
			_ = last.UnmarshalText(value)
		case errors.Is(err, jetstream.ErrKeyNotFound):
			// Never sent: the first digest is the first scheduled after
			// the unit was first seen, which is recorded, so that a stop
			// or crash across that time does not skip it.
			if _, ok := s.floor[u.Name]; !ok {
				floor, err := firstSeen(ctx, s.Outbox.Sent, u.Name, due)
				if err != nil {
					s.Log.Error("digest schedule not checked", "unit", u.Name, "err", err)
					continue
				}
				s.floor[u.Name] = floor
			}
			last = s.floor[u.Name]
		default:
			s.Log.Error("digest schedule not checked", "unit", u.Name, "err", err)
			continue
		}
		if !last.Before(due) {
			continue
		}
		d := s.built[u.Name]
		if d == nil || !d.Until.Equal(due) {
			if d, err = Build(ctx, s.Outbox, *u, s.WebURL, s.Snap, due); err != nil {
				if ctx.Err() == nil {
					s.Log.Error("digest not built; tried again at the next check", "unit", u.Name, "err", err)
				}
				continue
			}
			s.built[u.Name] = d
		}
		if err := Queue(ctx, s.Outbox, d); err != nil {
			if ctx.Err() == nil {
				s.Log.Error("digest not queued; tried again at the next check", "unit", u.Name, "err", err)
			}
			continue
		}
		delete(s.built, u.Name)
		s.Log.Info("digest queued", "unit", u.Name, "digest", d.ID, "alerts", d.Total)
	}
}

// firstSeen returns when the unit's schedule was first checked (the
// latest scheduled time before then), recording now's due if it was
// never checked before.
func firstSeen(ctx context.Context, kv jetstream.KeyValue, unit string, due time.Time) (time.Time, error) {
	key := "start." + keyPart(unit)
	v, _ := due.UTC().MarshalText()
	if _, err := kv.Create(ctx, key, v); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return time.Time{}, fmt.Errorf("recording when unit %s was first scheduled: %w", unit, err)
	}
	e, err := kv.Get(ctx, key)
	if err != nil {
		return time.Time{}, fmt.Errorf("reading when unit %s was first scheduled: %w", unit, err)
	}
	var t time.Time
	if err := t.UnmarshalText(e.Value()); err != nil {
		return time.Time{}, fmt.Errorf("reading when unit %s was first scheduled: %w", unit, err)
	}
	return t, nil
}

// getFromLeader reads key from kv, asking the bucket's leader when a
// replica says it is not there (bus.GetConsistent).
func getFromLeader(ctx context.Context, js jetstream.JetStream, kv jetstream.KeyValue, key string) ([]byte, error) {
	v, _, err := bus.GetConsistent(ctx, js, kv, key)
	return v, err
}

// delivered reports whether the record key says a digest went out on a
// channel. A failure to read it counts as not delivered: the digest is
// then sent (again), with the same Message-ID and Idempotency-Key.
func delivered(ctx context.Context, js jetstream.JetStream, kv jetstream.KeyValue, key string) bool {
	_, err := getFromLeader(ctx, js, kv, key)
	return err == nil
}
