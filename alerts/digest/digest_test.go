package digest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/adwatch/adwatch/alerts"
	"github.com/adwatch/adwatch/internal/bus"
	"github.com/adwatch/adwatch/internal/bus/bustest"
	"github.com/adwatch/adwatch/internal/record"
)

// mailbox is a real SMTP server on loopback that refuses the first
// message with a temporary failure, then accepts.
type mailbox struct {
	mu       sync.Mutex
	refuse   int
	received []received
}

type received struct {
	from string
	to   []string
	data []byte
}

func (m *mailbox) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{box: m}, nil }

type session struct {
	box  *mailbox
	from string
	to   []string
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error { s.from = from; return nil }
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error   { s.to = append(s.to, to); return nil }
func (s *session) Reset()                                      { s.from, s.to = "", nil }
func (s *session) Logout() error                               { return nil }
func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.box.mu.Lock()
	defer s.box.mu.Unlock()
	if s.box.refuse > 0 {
		s.box.refuse--
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	s.box.received = append(s.box.received, received{s.from, s.to, data})
	return nil
}

func startSMTP(t *testing.T, box *mailbox) (string, int) {
	t.Helper()
	srv := smtp.NewServer(box)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	addr := ln.Addr().(*net.TCPAddr)
	return "127.0.0.1", addr.Port
}

func putAlert(t *testing.T, b *bus.Bus, a record.Alert) {
	t.Helper()
	data, _ := json.Marshal(a)
	if _, err := b.Alerts.Put(context.Background(), a.Key, data); err != nil {
		t.Fatal(err)
	}
}

// outbox is the part of b that building and queueing digests use.
func outbox(b *bus.Bus) Outbox { return Outbox{JS: b.JS, Alerts: b.Alerts, Sent: b.Digests} }

func seed(t *testing.T, b *bus.Bus) {
	now := time.Now().UTC()
	putAlert(t, b, record.Alert{Key: "possible_minor.p1", Rule: "possible_minor", Severity: "critical", Entity: "profile:P1",
		Summary: "3 ads; stated ages 17 to 19", Status: record.StatusNew, Cities: []string{"Oakland"}, Updated: now})
	putAlert(t, b, record.Alert{Key: "shared_phone.x", Rule: "shared_phone", Severity: "high", Entity: "phone:+15108730123",
		Summary: "in the ads of 4 profiles", Status: record.StatusNew, Cities: []string{"Oakland", "San Jose"}, Updated: now})
	putAlert(t, b, record.Alert{Key: "circuit.sf", Rule: "circuit", Severity: "medium", Entity: "profile:P9",
		Summary: "elsewhere", Status: record.StatusNew, Cities: []string{"Sacramento"}, Updated: now})
	putAlert(t, b, record.Alert{Key: "city_surge.low", Rule: "city_surge", Severity: "low", Entity: "city:Oakland@2020-10-02",
		Summary: "too minor for this unit", Status: record.StatusNew, Cities: []string{"Oakland"}, Updated: now})
}

func snapshotter(_ context.Context, city string, day time.Time) (int, int, error) {
	if day.Year() == 2020 {
		return 1165, 750, nil
	}
	return 999, 666, nil
}

func TestEmailDigestSurvivesServerFailure(t *testing.T) {
	b := bustest.New(t)
	seed(t, b)
	box := &mailbox{refuse: 1}
	host, port := startSMTP(t, box)
	unit := alerts.Unit{Name: "alameda-vice", Recipients: []string{"vice@example.org", "lt@example.org"}, Cities: []string{"Oakland"},
		MinSeverity: "medium", Timezone: "America/Los_Angeles", Schedule: "07:00"}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// The morning after 2020-10-02 in Oakland.
	now := time.Date(2020, 10, 3, 14, 0, 0, 0, time.UTC)
	d, err := Build(ctx, outbox(b), unit, "http://127.0.0.1:8080", snapshotter, now)
	if err != nil {
		t.Fatal(err)
	}
	if d.Total != 2 || d.Counts[0].Rule != "possible_minor" {
		t.Fatalf("digest: %d alerts, counts %+v; want the two Oakland alerts of medium or more, minors first", d.Total, d.Counts)
	}
	if err := Queue(ctx, outbox(b), d); err != nil {
		t.Fatal(err)
	}
	s := &Sender{JS: b.JS, Delivered: b.Digests, SMTP: alerts.SMTP{Host: host, Port: port, From: "adwatch@localhost", StartTLS: "none"},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), MaxBackoff: 200 * time.Millisecond, Metrics: NewMetrics(prometheus.NewRegistry())}
	if err := s.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	checkCounts(t, s.Metrics, "alameda-vice", "email", counts{sent: 1, failed: 1, retried: 1})
	checkCounts(t, s.Metrics, "alameda-vice", "webhook", counts{})
	box.mu.Lock()
	got := box.received
	box.mu.Unlock()
	if len(got) != 1 {
		t.Fatalf("received %d messages after a failure and recovery, want exactly 1", len(got))
	}
	if strings.Join(got[0].to, ",") != "vice@example.org,lt@example.org" {
		t.Errorf("recipients %v", got[0].to)
	}
	msg, err := mail.ReadMessage(strings.NewReader(string(got[0].data)))
	if err != nil {
		t.Fatal(err)
	}
	if subj := msg.Header.Get("Subject"); subj != "adwatch digest for alameda-vice: 2 new alerts" {
		t.Errorf("subject %q", subj)
	}
	parts := map[string]string{}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mt, "multipart/") {
		t.Fatalf("content type %q: %v", mt, err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		body, _ := io.ReadAll(p)
		if p.Header.Get("Content-Transfer-Encoding") == "quoted-printable" {
			body, _ = io.ReadAll(quotedPrintable(string(body)))
		}
		parts[ct] = string(body)
	}
	text, html := parts["text/plain"], parts["text/html"]
	for _, want := range []string{"stated ages 17 to 19", "in the ads of 4 profiles", "1165", "999", "+16.6%", "+12.6%", "http://127.0.0.1:8080/profiles/P1"} {
		if !strings.Contains(text, want) {
			t.Errorf("text part lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "Sacramento") || strings.Contains(text, "too minor") {
		t.Errorf("text part holds alerts outside the unit:\n%s", text)
	}
	if !strings.Contains(html, "<li><b>[critical] possible_minor</b>") || !strings.Contains(html, "12.6%") {
		t.Errorf("html part:\n%s", html)
	}
	// The next digest never repeats an alert.
	again, err := Build(ctx, outbox(b), unit, "http://127.0.0.1:8080", snapshotter, now.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if again.Total != 0 || !again.Since.Equal(now) {
		t.Errorf("second digest: %d alerts since %v", again.Total, again.Since)
	}
}

func TestWebhookDigestRetried(t *testing.T) {
	b := bustest.New(t)
	seed(t, b)
	var calls, ok atomic.Int64
	var body []byte
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		body, _ = io.ReadAll(r.Body)
		ok.Add(1)
	}))
	defer hook.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	unit := alerts.Unit{Name: "state-task-force", Webhook: hook.URL, WebhookFormat: "slack", MinSeverity: "low", Timezone: "UTC", Schedule: "07:00"}
	d, err := Build(ctx, outbox(b), unit, "http://127.0.0.1:8080", nil, time.Now())
	if err != nil || d.Total != 4 {
		t.Fatalf("digest %v %v", d, err)
	}
	if err := Queue(ctx, outbox(b), d); err != nil {
		t.Fatal(err)
	}
	s := &Sender{JS: b.JS, Delivered: b.Digests, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), MaxBackoff: 100 * time.Millisecond, Metrics: NewMetrics(prometheus.NewRegistry())}
	if err := s.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	// The answer 500 is a failed attempt; the second, a retry, is sent.
	checkCounts(t, s.Metrics, "state-task-force", "webhook", counts{sent: 1, failed: 1, retried: 1})
	checkCounts(t, s.Metrics, "state-task-force", "email", counts{})
	var slack struct{ Text string }
	if ok.Load() != 1 || json.Unmarshal(body, &slack) != nil || !strings.Contains(slack.Text, "possible_minor") {
		t.Errorf("webhook: %d deliveries of %d calls, body %s", ok.Load(), calls.Load(), body)
	}
}

func TestNextRun(t *testing.T) {
	u := alerts.Unit{Schedule: "07:00", Timezone: "America/Los_Angeles"}
	now := time.Date(2020, 10, 3, 13, 0, 0, 0, time.UTC) // 06:00 in Oakland
	if got, want := u.NextRun(now), time.Date(2020, 10, 3, 14, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("next run %v, want %v", got, want)
	}
	if got, want := u.NextRun(now.Add(2*time.Hour)), time.Date(2020, 10, 4, 14, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("next run %v, want %v", got, want)
	}
}

// counts are a unit's delivery counters on one channel.
type counts struct{ sent, failed, retried float64 }

// checkCounts checks m's counters of unit on channel.
func checkCounts(t *testing.T, m *Metrics, unit, channel string, want counts) {
	t.Helper()
	got := counts{
		sent:    testutil.ToFloat64(m.Sent.WithLabelValues(unit, channel)),
		failed:  testutil.ToFloat64(m.Failed.WithLabelValues(unit, channel)),
		retried: testutil.ToFloat64(m.Retried.WithLabelValues(unit, channel)),
	}
	if got != want {
		t.Errorf("%s %s: counters %+v, want %+v", unit, channel, got, want)
	}
}

// TestNoSMTPHostCountsFailedEmail: recipients without an SMTP host fail
// the email channel: each attempt is counted as failed, none as sent.
func TestNoSMTPHostCountsFailedEmail(t *testing.T) {
	b := bustest.New(t)
	s := &Sender{JS: b.JS, Delivered: b.Digests, Metrics: NewMetrics(prometheus.NewRegistry())}
	d := &record.Digest{ID: "u-1", Unit: "vice", Recipients: []string{"vice@example.org"}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for attempt := uint64(1); attempt <= 2; attempt++ {
		if err := s.deliver(ctx, d, attempt); err == nil || !strings.Contains(err.Error(), "no smtp host") {
			t.Fatalf("attempt %d: %v, want no smtp host", attempt, err)
		}
	}
	checkCounts(t, s.Metrics, "vice", "email", counts{failed: 2})
}

// TestSchedulerRetriesADigestItCouldNotQueue has the scheduler meet a unit's
// digest time while the figures cannot be read (serve's API restarting, a
// NATS leader being elected): the digest is queued, once and whole, at a
// later check instead of being skipped until the next day.
func TestSchedulerRetriesADigestItCouldNotQueue(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fails int64
	}{
		{"figures at the first try", 0},
		{"figures out of reach twice", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := bustest.New(t)
			seed(t, b)
			var calls atomic.Int64
			snap := func(ctx context.Context, city string, day time.Time) (int, int, error) {
				if calls.Add(1) <= tc.fails {
					return 0, 0, errors.New("serve's API does not answer")
				}
				return snapshotter(ctx, city, day)
			}
			// Started a minute before 07:00 in Oakland; every later
			// check is past it.
			start := time.Date(2020, 10, 3, 13, 59, 0, 0, time.UTC)
			var ticks atomic.Int64
			now := func() time.Time {
				if ticks.Add(1) == 1 {
					return start
				}
				return start.Add(2 * time.Minute)
			}
			unit := alerts.Unit{Name: "alameda-vice", Recipients: []string{"vice@example.org"}, Cities: []string{"Oakland"},
				MinSeverity: "medium", Timezone: "America/Los_Angeles", Schedule: "07:00"}
			s := &Scheduler{Outbox: outbox(b), Units: []alerts.Unit{unit}, WebURL: "http://127.0.0.1:8080", Snap: snap,
				Log: slog.New(slog.DiscardHandler), Now: now, Every: 10 * time.Millisecond}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- s.Run(ctx) }()
			st, err := b.JS.Stream(ctx, bus.StreamOutbox)
			if err != nil {
				t.Fatal(err)
			}
			for {
				info, err := st.Info(ctx)
				if err != nil {
					t.Fatalf("no digest queued: %v", err)
				}
				if info.State.Msgs > 0 {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			// A few more checks: the digest is not queued again.
			for n := ticks.Load() + 5; ticks.Load() < n && ctx.Err() == nil; {
				time.Sleep(10 * time.Millisecond)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			info, err := st.Info(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			m, err := st.GetMsg(context.Background(), info.State.FirstSeq)
			if err != nil {
				t.Fatal(err)
			}
			var d record.Digest
			if err := json.Unmarshal(m.Data, &d); err != nil {
				t.Fatal(err)
			}
			if info.State.Msgs != 1 || d.Total != 2 || len(d.Snapshots) != 1 || d.Snapshots[0].Ads != 1165 {
				t.Errorf("outbox: %d digests, the first of %d alerts with figures %+v; want one of 2 alerts with Oakland's 1,165 ads",
					info.State.Msgs, d.Total, d.Snapshots)
			}
		})
	}
}
