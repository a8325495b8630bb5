package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/adwatch/adwatch/extractor/handle"
	"github.com/adwatch/adwatch/extractor/imagehash"
	"github.com/adwatch/adwatch/extractor/phone"
	"github.com/adwatch/adwatch/internal/record"
)

// Kinds of watchlist entries.
const (
	WatchPhone  = "phone"
	WatchHandle = "handle"
	WatchImage  = "image"
	WatchTerm   = "term"
)

// WatchEntry is something an investigator wants to hear of: any new ad
// with this phone, handle, image or term.
//
// An image is watched by its SHA-256 (that file only) or by its perceptual
// hash, with the hashes of its crop variants when the photo itself was
// given: then any re-encoded, resized or slightly cropped copy matches.
type WatchEntry struct {
	Kind  string `json:"kind"`
	Value string `json:"value"`
	// PHash and Crops, for an image given as a photo or a perceptual hash.
	PHash string    `json:"phash,omitempty"`
	Crops []string  `json:"crops,omitempty"`
	Note  string    `json:"note,omitempty"`
	By    string    `json:"by"`
	At    time.Time `json:"at"`
}

// WatchPhoto makes an image entry from a photo: its SHA-256 and its
// perceptual hashes.
func WatchPhoto(data []byte, maxPixels int, by, note string) (WatchEntry, error) {
	r, err := imagehash.Hash(data, maxPixels)
	if err != nil {
		return WatchEntry{}, fmt.Errorf("watching a photo: %w", err)
	}
	e := WatchEntry{Kind: WatchImage, Value: r.SHA256, PHash: imagehash.Hex(r.PHash), By: by, Note: note}
	for _, c := range r.Crops {
		e.Crops = append(e.Crops, imagehash.Hex(c))
	}
	return e, nil
}

// isHex reports whether s is n lowercase hex digits.
func isHex(s string, n int) bool {
	return len(s) == n && strings.Trim(s, "0123456789abcdef") == ""
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
		e.PHash = strings.ToLower(e.PHash)
		if isHex(e.Value, 16) && e.PHash == "" {
			e.PHash = e.Value // a perceptual hash given as the value
		}
		if !isHex(e.Value, 64) && !isHex(e.Value, 16) {
			return e, fmt.Errorf("%q is neither an image SHA-256 nor a 16-digit perceptual hash", e.Value)
		}
		for _, h := range append([]string{e.PHash}, e.Crops...) {
			if h != "" && !isHex(h, 16) {
				return e, fmt.Errorf("%q is not a 16-digit perceptual hash", h)
			}
		}
	case WatchTerm:
		e.Value = strings.ToLower(strings.Join(strings.Fields(e.Value), " "))
	default:
		return e, fmt.Errorf("watchlist kind %q is not one of phone, handle, image, term", e.Kind)
	}
	return e, nil
}

func watchKey(e WatchEntry) string { return e.Kind + "." + record.SHA256Hex([]byte(e.Value))[:32] }

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

// ErrNoWatch is returned by RemoveWatch for an entry not on the list.
var ErrNoWatch = errors.New("no such watchlist entry")

// RemoveWatch removes the entry of e's kind and value (as listed).
func RemoveWatch(ctx context.Context, kv jetstream.KeyValue, e WatchEntry) error {
	key := watchKey(e)
	if _, err := kv.Get(ctx, key); err != nil {
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return ErrNoWatch
		}
		return fmt.Errorf("reading watchlist entry: %w", err)
	}
	if err := kv.Delete(ctx, key); err != nil {
		return fmt.Errorf("removing watchlist entry: %w", err)
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
	return listJSON[WatchEntry](ctx, nil, kv, "watchlist")
}

// watchHits lists the entries an ad matches.
func (s *state) watchHits(u *record.ProfileUpdate) []string {
	var out []string
	for _, w := range s.watch {
		hit := false
		switch w.Kind {
		case WatchPhone:
			hit = slices.Contains(u.Phones, w.Value)
		case WatchHandle:
			hit = slices.Contains(u.Handles, w.Value)
		case WatchImage:
			hit = slices.Contains(u.Images, w.Value) || s.nearPhoto(w, u.Photos)
		case WatchTerm:
			hit = containsTerm(u.Text, w.Value) || containsTerm(strings.ToLower(u.Title), w.Value)
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

// nearPhoto reports whether any of an ad's photos is the watched photo
// re-encoded, resized or cropped: imagehash.Near at the linking threshold.
func (s *state) nearPhoto(w WatchEntry, photos []record.Photo) bool {
	plain, err := imagehash.ParseHex(w.PHash)
	if w.PHash == "" || err != nil {
		return false
	}
	crops := parseHexes(w.Crops)
	for _, p := range photos {
		h, err := imagehash.ParseHex(p.PHash)
		if err == nil && imagehash.Near(plain, crops, h, parseHexes(p.Crops), s.phashThreshold) {
			return true
		}
	}
	return false
}

func parseHexes(hs []string) []uint64 {
	out := make([]uint64, 0, len(hs))
	for _, h := range hs {
		if v, err := imagehash.ParseHex(h); err == nil {
			out = append(out, v)
		}
	}
	return out
}

// containsTerm reports whether text holds term as whole words: "rosa"
// in "call rosa now", not in "rosalind".
func containsTerm(text, term string) bool {
	for from := 0; term != ""; {
		i := strings.Index(text[from:], term)
		if i < 0 {
			return false
		}
		start, end := from+i, from+i+len(term)
		before, _ := utf8.DecodeLastRuneInString(text[:start])
		after, _ := utf8.DecodeRuneInString(text[end:])
		if (start == 0 || !wordRune(before)) && (end == len(text) || !wordRune(after)) {
			return true
		}
		from = start + 1
	}
	return false
}

func wordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }
