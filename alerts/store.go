// The alert store: one entry per rule and entity in the alerts bucket,
// with the transitions adwatch makes (new evidence reopens, a rule that
// stops firing withdraws) and those an investigator makes (SetStatus).

package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/adwatch/adwatch/internal/bus"
	"github.com/adwatch/adwatch/internal/record"
)

// sameEvidence reports whether two alerts show the same evidence.
func sameEvidence(a, b *record.Alert) bool {
	x, _ := json.Marshal([]any{a.Summary, a.AdCount, a.Ads, a.Profiles, a.Phones, a.Images, a.Cities, a.Terms})
	y, _ := json.Marshal([]any{b.Summary, b.AdCount, b.Ads, b.Profiles, b.Phones, b.Images, b.Cities, b.Terms})
	return string(x) == string(y)
}

// alertKey is the bucket key of a rule on an entity.
func alertKey(rule, entity string) string { return rule + "." + bus.KeyToken(entity) }

// retract removes an alert whose rule no longer fires. An alert nobody has
// acted on is deleted; one with a status an investigator set is kept and
// marked withdrawn, so their work is not lost.
// A key the stage knows absent (Stage.present) is not read.
func (s *Stage) retract(ctx context.Context, key string) error {
	if s.present != nil && !s.present[key] {
		return nil
	}
	old, rev, err := get(ctx, s.JS, s.Alerts, key)
	if err != nil {
		return err
	}
	if old == nil {
		s.forget(key)
		return nil
	}
	if old.Status == record.StatusNew && len(old.History) == 0 {
		if err := s.Alerts.Purge(ctx, key); err != nil {
			return fmt.Errorf("deleting alert %s: %w", key, err)
		}
		s.forget(key)
		return nil
	}
	if old.Status == record.StatusWithdrawn {
		return nil
	}
	old.Status, old.Updated = record.StatusWithdrawn, time.Now().UTC()
	old.History = append(old.History, record.StatusChange{Status: record.StatusWithdrawn, By: "adwatch", At: old.Updated, Note: "the rule no longer fires"})
	return put(ctx, s.Alerts, old, rev)
}

// forget records that the alert at key is no longer in the bucket.
func (s *Stage) forget(key string) {
	if s.present != nil {
		delete(s.present, key)
	}
}

// newEvidence reports whether b shows an ad, profile, phone, image or
// term that a did not.
func newEvidence(a, b *record.Alert) bool {
	for _, l := range [][2][]string{{a.Ads, b.Ads}, {a.Profiles, b.Profiles}, {a.Phones, b.Phones}, {a.Images, b.Images}} {
		for _, v := range l[1] {
			if !slices.Contains(l[0], v) {
				return true
			}
		}
	}
	for _, t := range b.Terms {
		if !slices.Contains(a.Terms, t) {
			return true
		}
	}
	return false
}

// upsert writes a, keeping its status, assignee, history and first-seen
// time, only when the evidence changed. An acknowledged or withdrawn alert
// with changed evidence reopens; a dismissed one reopens when the evidence
// holds something new (an ad, profile, phone, photo or term it did not).
func (s *Stage) upsert(ctx context.Context, a record.Alert) error {
	now := time.Now().UTC()
	old, rev, err := get(ctx, s.JS, s.Alerts, a.Key)
	if err != nil {
		return err
	}
	if old == nil {
		a.Status, a.FirstSeen, a.Updated = record.StatusNew, now, now
		s.Metrics.Raised.WithLabelValues(a.Rule).Inc()
		// Present from now on, whether the write succeeds or not: a key
		// taken for present costs a read, one taken for absent would
		// leave an alert unretracted.
		if s.present != nil {
			s.present[a.Key] = true
		}
		return put(ctx, s.Alerts, &a, 0)
	}
	if s.present != nil {
		s.present[a.Key] = true
	}
	if sameEvidence(old, &a) {
		return nil
	}
	a.Status, a.FirstSeen, a.Updated, a.History, a.Assignee = old.Status, old.FirstSeen, now, old.History, old.Assignee
	if old.Status == record.StatusAcknowledged || old.Status == record.StatusWithdrawn ||
		(old.Status == record.StatusDismissed && newEvidence(old, &a)) {
		a.Status = record.StatusNew
		a.History = append(a.History, record.StatusChange{Status: record.StatusNew, By: "adwatch", At: now, Note: "new evidence"})
	}
	s.Metrics.Updated.WithLabelValues(a.Rule).Inc()
	return put(ctx, s.Alerts, &a, rev)
}

// get reads one alert; nil when absent. A replica that says "not found"
// is asked again of the bucket's leader (bus.GetConsistent; js may be
// nil), so an alert is not taken as new, nor left unretracted, because a
// replica was behind.
func get(ctx context.Context, js jetstream.JetStream, kv jetstream.KeyValue, key string) (*record.Alert, uint64, error) {
	v, rev, err := bus.GetConsistent(ctx, js, kv, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("reading alert %s: %w", key, err)
	}
	var a record.Alert
	if err := json.Unmarshal(v, &a); err != nil {
		return nil, 0, fmt.Errorf("decoding alert %s: %w", key, err)
	}
	return &a, rev, nil
}

// put writes an alert; with rev > 0 only over that revision, so a status
// an investigator set meanwhile is not overwritten (the write fails and
// the next evaluation retries); with rev 0 only where no alert is, so an
// alert a lagging read missed is not overwritten with its history lost.
func put(ctx context.Context, kv jetstream.KeyValue, a *record.Alert, rev uint64) error {
	data, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encoding alert: %w", err)
	}
	if rev > 0 {
		_, err = kv.Update(ctx, a.Key, data, rev)
	} else {
		_, err = kv.Create(ctx, a.Key, data)
	}
	if err != nil {
		return fmt.Errorf("writing alert %s: %w", a.Key, err)
	}
	return nil
}

// listJSON decodes every value of a bucket, listed as its leader knows it
// (bus.LeaderKeys, bus.GetConsistent; js may be nil): keys deleted are
// skipped, and so are values that do not decode.
func listJSON[T any](ctx context.Context, js jetstream.JetStream, kv jetstream.KeyValue, what string) ([]T, error) {
	keys, err := bus.LeaderKeys(ctx, js, kv)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", what, err)
	}
	var out []T
	for _, k := range keys {
		data, _, err := bus.GetConsistent(ctx, js, kv, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s %s: %w", what, k, err)
		}
		var v T
		if json.Unmarshal(data, &v) == nil {
			out = append(out, v)
		}
	}
	return out, nil
}

// ErrBadStatus is returned for a status an investigator cannot set.
var ErrBadStatus = errors.New("unknown status")

// SetStatus records an investigator's status change on an alert.
func SetStatus(ctx context.Context, js jetstream.JetStream, kv jetstream.KeyValue, key, status, by, note string) (*record.Alert, error) {
	if !slices.Contains(record.Statuses, status) {
		return nil, fmt.Errorf("%w %q (one of %s)", ErrBadStatus, status, strings.Join(record.Statuses, ", "))
	}
	if strings.TrimSpace(by) == "" {
		return nil, errors.New("a status change needs who made it")
	}
	return change(ctx, js, kv, key, func(a *record.Alert) {
		a.Status = status
		a.History = append(a.History, record.StatusChange{Status: status, By: by, At: time.Now().UTC(), Note: note})
	})
}

// ErrNoAlert is returned for a key that names no alert.
var ErrNoAlert = errors.New("no such alert")

// change applies fn to the alert at key, at the revision read, retrying
// when the alert changed meanwhile.
func change(ctx context.Context, js jetstream.JetStream, kv jetstream.KeyValue, key string, fn func(a *record.Alert)) (*record.Alert, error) {
	for range 5 {
		a, rev, err := get(ctx, js, kv, key)
		if err != nil {
			return nil, err
		}
		if a == nil {
			return nil, fmt.Errorf("%w: %s", ErrNoAlert, key)
		}
		fn(a)
		if err := put(ctx, kv, a, rev); err == nil {
			return a, nil
		}
	}
	return nil, fmt.Errorf("alert %s kept changing; try again", key)
}

// Assign gives the alert at key to assignee (empty: nobody), recorded in
// its history as a change by by with note; the status stays.
func Assign(ctx context.Context, js jetstream.JetStream, kv jetstream.KeyValue, key, assignee, by, note string) (*record.Alert, error) {
	if strings.TrimSpace(by) == "" {
		return nil, errors.New("an assignment needs who made it")
	}
	return change(ctx, js, kv, key, func(a *record.Alert) {
		a.Assignee = assignee
		a.History = append(a.History, record.StatusChange{Status: a.Status, By: by, At: time.Now().UTC(), Note: note, Assigned: assignee})
	})
}

// Get returns the alert at key; ErrNoAlert when there is none.
func Get(ctx context.Context, js jetstream.JetStream, kv jetstream.KeyValue, key string) (*record.Alert, error) {
	a, _, err := get(ctx, js, kv, key)
	if err == nil && a == nil {
		err = fmt.Errorf("%w: %s", ErrNoAlert, key)
	}
	return a, err
}

// List returns every alert in the bucket: most severe first, then newest.
// With js it lists the alerts as the bucket's leader knows them, so a
// replica catching up after a restart leaves none out; js may be nil (a
// single server).
func List(ctx context.Context, js jetstream.JetStream, kv jetstream.KeyValue) ([]record.Alert, error) {
	out, err := listJSON[record.Alert](ctx, js, kv, "alerts")
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool {
		if ri, rj := SeverityRank(out[i].Severity), SeverityRank(out[j].Severity); ri != rj {
			return ri < rj
		}
		if !out[i].Updated.Equal(out[j].Updated) {
			return out[i].Updated.After(out[j].Updated)
		}
		return out[i].Key < out[j].Key
	})
	return out, nil
}
