// Package digest builds the morning digest of a unit (what is new since the
// last one: counts by rule, the top alerts with one line of evidence and a
// link, and the unit's cities' 24-hour snapshot against the same weekday a
// year before) and delivers it by email and webhook.
//
// Digests are queued durably in the ADWATCH_OUTBOX stream and acknowledged
// only after every channel accepted them; a failed delivery is retried with
// backoff and never lost. An alert goes to a unit once.
package digest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"net/url"
	"sort"
	"strings"
	"text/template"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/adwatch/adwatch/alerts"
	"github.com/adwatch/adwatch/internal/bus"
	"github.com/adwatch/adwatch/internal/record"
)

// Outbox is what building and queueing digests use: the alerts, the
// record of what each unit was sent, and the stream digests are queued on.
type Outbox struct {
	JS     jetstream.JetStream
	Alerts jetstream.KeyValue
	// Sent records, per unit, the alerts already sent and the last digest
	// time (the digests bucket).
	Sent jetstream.KeyValue
}

// Snapshotter counts ads and profiles of a city over the local day date.
type Snapshotter func(ctx context.Context, city string, date time.Time) (ads, profiles int, err error)

// TopAlerts is how many alerts a digest lists one by one.
const TopAlerts = 25

func sentKey(unit, alert string) string { return "sent." + keyPart(unit) + "." + alert }
func lastKey(unit string) string        { return "last." + keyPart(unit) }

// keyPart makes s one token of a key or subject by writing '_' for each
// rune bus.KeyRune does not allow. Unlike bus.KeyToken it can map two unit
// names to one token; it stays because the digest bucket's keys ("sent.",
// "last.") and the outbox subjects and digest ids of units whose names have
// spaces were written with it.
func keyPart(s string) string {
	return strings.Map(func(r rune) rune {
		if bus.KeyRune(r) {
			return r
		}
		return '_'
	}, s)
}

// Build makes the unit's digest of the alerts it has not been sent.
func Build(ctx context.Context, b Outbox, u alerts.Unit, webURL string, snap Snapshotter, now time.Time) (*record.Digest, error) {
	d := &record.Digest{Unit: u.Name, Until: now.UTC(), WebURL: strings.TrimRight(webURL, "/"),
		Recipients: u.Recipients, Webhook: u.Webhook, Format: u.WebhookFormat}
	if v, _, err := bus.GetConsistent(ctx, b.JS, b.Sent, lastKey(u.Name)); err == nil {
		_ = d.Since.UnmarshalText(v)
	}
	d.ID = fmt.Sprintf("%s-%d", keyPart(u.Name), now.UnixNano())
	list, err := alerts.List(ctx, b.JS, b.Alerts)
	if err != nil {
		return nil, err
	}
	counts := map[string]*record.RuleCount{}
	for _, a := range list {
		if !u.Wants(&a) || a.Status == record.StatusDismissed || a.Status == record.StatusWithdrawn {
			continue
		}
		if _, _, err := bus.GetConsistent(ctx, b.JS, b.Sent, sentKey(u.Name, a.Key)); err == nil {
			continue
		} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil, fmt.Errorf("reading what %s was sent: %w", u.Name, err)
		}
		d.Total++
		if counts[a.Rule] == nil {
			counts[a.Rule] = &record.RuleCount{Rule: a.Rule, Severity: a.Severity}
		}
		counts[a.Rule].Count++
		d.Alerts = append(d.Alerts, a)
	}
	for _, c := range counts {
		d.Counts = append(d.Counts, *c)
	}
	sort.Slice(d.Counts, func(i, j int) bool {
		if ri, rj := alerts.SeverityRank(d.Counts[i].Severity), alerts.SeverityRank(d.Counts[j].Severity); ri != rj {
			return ri < rj
		}
		return d.Counts[i].Rule < d.Counts[j].Rule
	})
	if snap != nil {
		loc, err := time.LoadLocation(u.Timezone)
		if err != nil {
			loc = time.UTC
		}
		lt := now.In(loc)
		day := time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, loc).AddDate(0, 0, -1)
		prev := day.AddDate(0, 0, -364) // the same weekday a year before
		for _, city := range u.Cities {
			s := record.CityComparison{City: city, Date: day.Format("2006-01-02"), LastYear: prev.Format("2006-01-02")}
			if s.Ads, s.Profiles, err = snap(ctx, city, day); err != nil {
				return nil, err
			}
			if s.AdsPrev, s.ProfilesPrev, err = snap(ctx, city, prev); err != nil {
				return nil, err
			}
			s.AdsPct, s.ProfilesPct = record.PercentChange(s.Ads, s.AdsPrev), record.PercentChange(s.Profiles, s.ProfilesPrev)
			d.Snapshots = append(d.Snapshots, s)
		}
	}
	return d, nil
}

// Shown are the alerts of d listed one by one.
func Shown(d *record.Digest) []record.Alert { return d.Alerts[:min(len(d.Alerts), TopAlerts)] }

// Link is the web page of an alert: its profile or ad, its city's trends,
// or the alert itself (behind the login).
func Link(d *record.Digest, a record.Alert) string {
	kind, id, _ := strings.Cut(a.Entity, ":")
	switch kind {
	case alerts.EntityProfile:
		return d.WebURL + "/profiles/" + url.PathEscape(id)
	case alerts.EntityAd:
		return d.WebURL + "/ads/" + url.PathEscape(id)
	case alerts.EntityCity:
		city, _, _ := strings.Cut(id, "@")
		return d.WebURL + "/trends?city=" + url.QueryEscape(city)
	}
	return d.WebURL + "/alerts/" + url.PathEscape(a.Key)
}

// Subject is the email subject of d.
func Subject(d *record.Digest) string {
	return fmt.Sprintf("adwatch digest for %s: %d new alerts", d.Unit, d.Total)
}

var funcs = map[string]any{
	"shown": Shown,
	"link":  func(d *record.Digest, a record.Alert) string { return Link(d, a) },
	"minus": func(a, b int) int { return a - b },
}

var textTmpl = template.Must(template.New("text").Funcs(funcs).Parse(`adwatch digest for {{.Unit}}
{{if .Since.IsZero}}First digest{{else}}New since {{.Since.Format "2006-01-02 15:04 MST"}}{{end}}: {{.Total}} alerts.
{{range .Counts}}
  {{printf "%-22s %-8s %4d" .Rule .Severity .Count}}{{end}}
{{range shown .}}
[{{.Severity}}] {{.Rule}} {{.Entity}}
  {{.Summary}}
  {{link $ .}}
{{end}}{{if gt .Total (len (shown .))}}
... and {{minus .Total (len (shown .))}} more in the web UI.
{{end}}{{range .Snapshots}}
{{.City}}, 24 hours:    {{.Date}}   {{.LastYear}}   change
  ads               {{printf "%8d %12d %+8.1f%%" .Ads .AdsPrev .AdsPct}}
  profiles          {{printf "%8d %12d %+8.1f%%" .Profiles .ProfilesPrev .ProfilesPct}}
{{end}}`))

var htmlTmpl = htmltemplate.Must(htmltemplate.New("html").Funcs(funcs).Parse(`<!doctype html>
<html><body style="font-family:sans-serif">
<h2>adwatch digest for {{.Unit}}</h2>
<p>{{if .Since.IsZero}}First digest{{else}}New since {{.Since.Format "2006-01-02 15:04 MST"}}{{end}}: <b>{{.Total}}</b> alerts.</p>
<table>{{range .Counts}}<tr><td>{{.Rule}}</td><td>{{.Severity}}</td><td>{{.Count}}</td></tr>{{end}}</table>
<ul>{{range shown .}}<li><b>[{{.Severity}}] {{.Rule}}</b> {{.Summary}} <a href="{{link $ .}}">open</a></li>{{end}}</ul>
{{range .Snapshots}}<h3>{{.City}}, 24 hours</h3>
<table><tr><th></th><th>{{.Date}}</th><th>{{.LastYear}}</th><th>change</th></tr>
<tr><td>ads</td><td>{{.Ads}}</td><td>{{.AdsPrev}}</td><td>{{printf "%+.1f%%" .AdsPct}}</td></tr>
<tr><td>profiles</td><td>{{.Profiles}}</td><td>{{.ProfilesPrev}}</td><td>{{printf "%+.1f%%" .ProfilesPct}}</td></tr></table>{{end}}
</body></html>`))

// Text renders d as plain text.
func Text(d *record.Digest) string {
	var b bytes.Buffer
	if err := textTmpl.Execute(&b, d); err != nil {
		return "rendering digest: " + err.Error()
	}
	return b.String()
}

// HTML renders d as an HTML page.
func HTML(d *record.Digest) string {
	var b bytes.Buffer
	if err := htmlTmpl.Execute(&b, d); err != nil {
		return "rendering digest: " + err.Error()
	}
	return b.String()
}

// Queue puts the digest on the durable outbox and records its alerts as
// sent to the unit, and the digest time as the unit's last.
func Queue(ctx context.Context, b Outbox, d *record.Digest) error {
	data, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encoding digest: %w", err)
	}
	msg := &nats.Msg{Subject: bus.SubjectOutbox + "." + keyPart(d.Unit), Data: data, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, d.ID)
	if _, err := b.JS.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("queueing digest %s: %w", d.ID, err)
	}
	for _, a := range d.Alerts {
		if _, err := b.Sent.Put(ctx, sentKey(d.Unit, a.Key), []byte(d.ID)); err != nil {
			return fmt.Errorf("recording alert %s as sent: %w", a.Key, err)
		}
	}
	until, _ := d.Until.MarshalText()
	if _, err := b.Sent.Put(ctx, lastKey(d.Unit), until); err != nil {
		return fmt.Errorf("recording digest time: %w", err)
	}
	return nil
}
