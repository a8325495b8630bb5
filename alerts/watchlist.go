package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/adwatch/adwatch/extractor/handle"
	"github.com/adwatch/adwatch/extractor/phone"
	"github.com/adwatch/adwatch/indexer"
	"github.com/adwatch/adwatch/internal/ad"
)

// Kinds of watchlist entries.
const (
	WatchPhone  = "phone"
	WatchHandle = "handle"
	WatchImage  = "image"
	WatchTerm   = "term"
)

// WatchEntry is something an investigator wants to hear of: any new ad
// with this phone, handle, image (SHA-256) or term.
type WatchEntry struct {
	Kind  string    `json:"kind"`
	Value string    `json:"value"`
	Note  string    `json:"note,omitempty"`
	By    string    `json:"by"`
	At    time.Time `json:"at"`
}

// NormalizeWatch checks an entry and writes its value the way ads are
// written: phones in E.164, handles normalized, terms lowercase.
func NormalizeWatch(e WatchEntry, region string) (WatchEntry, error) {
	e.Value = strings.TrimSpace(e.Value)
	if e.At.IsZero() {
		e.At = time.Now().UTC()
	}
	if e.Value == "" {
		return e, errors.New("empty watchlist value")
	}
	if strings.TrimSpace(e.By) == "" {
		return e, errors.New("a watchlist entry needs who added it")
	}
	switch e.Kind {
	case WatchPhone:
		n := phone.New(region).Numbers(e.Value)
		if len(n) != 1 {
			return e, fmt.Errorf("%q is not one phone number", e.Value)
		}
		e.Value = n[0]
	case WatchHandle:
		h := handle.Find(e.Value)
		if len(h) != 1 {
			return e, fmt.Errorf("%q is not one handle (write it with its platform, like \"IG: name\" or \"$cashtag\")", e.Value)
		}
		e.Value = h[0]
	case WatchImage:
		e.Value = strings.ToLower(e.Value)
		if len(e.Value) != 64 || strings.Trim(e.Value, "0123456789abcdef") != "" {
			return e, fmt.Errorf("%q is not an image SHA-256", e.Value)
		}
	case WatchTerm:
		e.Value = strings.ToLower(e.Value)
	default:
		return e, fmt.Errorf("watchlist kind %q is not one of phone, handle, image, term", e.Kind)
	}
	return e, nil
}

func watchKey(e WatchEntry) string { return e.Kind + "." + ad.SHA256Hex([]byte(e.Value))[:32] }

// AddWatch stores a normalized entry.
func AddWatch(ctx context.Context, kv jetstream.KeyValue, e WatchEntry) error {
	if e.At.IsZero() {
		e.At = time.Now().UTC()
	}
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encoding watchlist entry: %w", err)
	}
	if _, err := kv.Put(ctx, watchKey(e), data); err != nil {
		return fmt.Errorf("storing watchlist entry: %w", err)
	}
	return nil
}

// loadWatchlist returns the bucket's revision and entries.
func loadWatchlist(ctx context.Context, kv jetstream.KeyValue) (uint64, []WatchEntry, error) {
	if kv == nil {
		return 0, nil, nil
	}
	st, err := kv.Status(ctx)
	if err != nil {
		return 0, nil, fmt.Errorf("reading watchlist: %w", err)
	}
	entries, err := Watchlist(ctx, kv)
	if err != nil {
		return 0, nil, err
	}
	return st.Values(), entries, nil
}

// Watchlist returns every entry.
func Watchlist(ctx context.Context, kv jetstream.KeyValue) ([]WatchEntry, error) {
	return listJSON[WatchEntry](ctx, kv, "watchlist")
}

// watchHits lists the entries an ad matches.
func (s *state) watchHits(u *indexer.ProfileUpdate) []string {
	var out []string
	for _, w := range s.watch {
		hit := false
		switch w.Kind {
		case WatchPhone:
			hit = contains(u.Phones, w.Value)
		case WatchHandle:
			hit = contains(u.Handles, w.Value)
		case WatchImage:
			hit = contains(u.Images, w.Value)
		case WatchTerm:
			hit = strings.Contains(strings.ToLower(u.Title), w.Value)
			for _, in := range u.Indicators {
				hit = hit || in.Term == w.Value
			}
		}
		if hit {
			out = append(out, w.Kind+" "+w.Value)
		}
	}
	return out
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
