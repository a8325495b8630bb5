package cases

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/adwatch/adwatch/internal/bus"
)

// Bucket is the key-value bucket of the cases.
const Bucket = "adwatch_cases"

// History is how many states of each case the bucket keeps.
const History = 64

// Limits of what a case holds.
const (
	MaxNumberLen = 40
	MaxTitleLen  = 200
	// MaxTextLen bounds a note or a search query, in bytes.
	MaxTextLen = 20000
	// MaxIDLen bounds a name, a profile id or an ad id, in bytes.
	MaxIDLen = 256
)

// Errors of the store.
var (
	ErrBadNumber = errors.New("case number not allowed")
	ErrExists    = errors.New("case exists")
	ErrNotFound  = errors.New("no such case")
	// ErrInvalid is returned for an empty or overlong title, name, id,
	// note or query.
	ErrInvalid = errors.New("not a valid value")
)

// errContention is returned when a case keeps changing under an update
// (many writers at once).
var errContention = errors.New("the case kept changing; giving up")

// maxAttempts bounds the read-modify-write retries of one change.
const maxAttempts = 50

// Note is an investigator's note on a case.
type Note struct {
	At   time.Time `json:"at"`
	By   string    `json:"by"`
	Text string    `json:"text"`
}

// Search is a search an investigator ran for a case, kept so the case
// shows how its ads were found.
type Search struct {
	At    time.Time `json:"at"`
	By    string    `json:"by"`
	Query string    `json:"query"`
}

// Case is one investigation: the profiles and ads it concerns, its notes
// and searches, and who works on it. The slices are never nil.
type Case struct {
	Number    string   `json:"number"`
	Title     string   `json:"title"`
	Assignees []string `json:"assignees"`
	Notes     []Note   `json:"notes"`
	// Profiles are profile ids as they were added; a profile merged since
	// is found under its new id by the index (indexer.Linker.Resolve).
	Profiles  []string  `json:"profiles"`
	Ads       []string  `json:"ads"`
	Searches  []Search  `json:"searches"`
	Created   time.Time `json:"created"`
	CreatedBy string    `json:"created_by"`
	Updated   time.Time `json:"updated"`
	Closed    bool      `json:"closed"`
}

// normalize makes the slices non-nil, so JSON shows [] and not null.
func (c *Case) normalize() {
	for _, s := range []*[]string{&c.Assignees, &c.Profiles, &c.Ads} {
		if *s == nil {
			*s = []string{}
		}
	}
	if c.Notes == nil {
		c.Notes = []Note{}
	}
	if c.Searches == nil {
		c.Searches = []Search{}
	}
}

// CheckNumber returns an error wrapping ErrBadNumber unless number is 1 to
// MaxNumberLen ASCII letters, digits, '-', '_', '/' or '.'
// ("2026-0042", "OPD/24.117").
func CheckNumber(number string) error {
	if len(number) < 1 || len(number) > MaxNumberLen {
		return fmt.Errorf("%w: %q: 1 to %d characters", ErrBadNumber, number, MaxNumberLen)
	}
	for _, r := range number {
		if !bus.KeyRune(r) && r != '/' && r != '.' {
			return fmt.Errorf("%w: %q: only letters, digits, '-', '_', '/' and '.'", ErrBadNumber, number)
		}
	}
	return nil
}

// key is the key-value key of a case number: '/' and '.' are not valid
// in every position of a key, so they are escaped (bus.KeyToken keeps the
// key readable and distinct numbers distinct).
func key(number string) string { return bus.KeyToken(number) }

// checkText returns an error wrapping ErrInvalid unless s, trimmed, is 1
// to limit bytes without control characters other than newlines and tabs.
func checkText(what, s string, limit int) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fmt.Errorf("%w: empty %s", ErrInvalid, what)
	}
	if len(s) > limit {
		return "", fmt.Errorf("%w: %s over %d bytes", ErrInvalid, what, limit)
	}
	if strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }) {
		return "", fmt.Errorf("%w: %s with control characters", ErrInvalid, what)
	}
	return s, nil
}

// checkID checks a name, profile id or ad id: one line, no spaces around.
func checkID(what, s string) (string, error) {
	s, err := checkText(what, s, MaxIDLen)
	if err == nil && strings.ContainsAny(s, "\n\t") {
		err = fmt.Errorf("%w: %s %q on more than one line", ErrInvalid, what, s)
	}
	return s, err
}

// checkTitle checks a title: empty is allowed.
func checkTitle(title string) (string, error) {
	title = strings.TrimSpace(title)
	if title == "" {
		return "", nil
	}
	if len(title) > MaxTitleLen {
		return "", fmt.Errorf("%w: title over %d bytes", ErrInvalid, MaxTitleLen)
	}
	return checkID("title", title)
}

// Store holds the cases in a JetStream key-value bucket.
type Store struct {
	kv jetstream.KeyValue
	// Now gives the time of changes; nil is time.Now. Times are stored
	// in UTC.
	Now func() time.Time
}

// Open creates (or updates) the cases bucket with the given replica count
// and returns the store on it.
func Open(ctx context.Context, js jetstream.JetStream, replicas int) (*Store, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: Bucket, Description: "adwatch investigators' cases by number", Storage: jetstream.FileStorage,
		Replicas: max(replicas, 1), History: History,
	})
	if err != nil {
		return nil, fmt.Errorf("creating key-value bucket %s: %w", Bucket, err)
	}
	return &Store{kv: kv}, nil
}

func (s *Store) now() time.Time {
	if s.Now == nil {
		return time.Now().UTC()
	}
	return s.Now().UTC()
}

// Create opens a new case; ErrExists when the number is taken.
func (s *Store) Create(ctx context.Context, number, title, by string) (Case, error) {
	if err := CheckNumber(number); err != nil {
		return Case{}, err
	}
	title, err := checkTitle(title)
	if err != nil {
		return Case{}, err
	}
	if by, err = checkID("creator", by); err != nil {
		return Case{}, err
	}
	now := s.now()
	c := Case{Number: number, Title: title, Created: now, CreatedBy: by, Updated: now}
	c.normalize()
	data, err := json.Marshal(c)
	if err != nil {
		return Case{}, fmt.Errorf("encoding case %s: %w", number, err)
	}
	if _, err := s.kv.Create(ctx, key(number), data); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return Case{}, fmt.Errorf("creating case %s: %w", number, ErrExists)
		}
		return Case{}, fmt.Errorf("creating case %s: %w", number, err)
	}
	return c, nil
}

// Get returns the case with the number; ErrNotFound when there is none.
func (s *Store) Get(ctx context.Context, number string) (Case, error) {
	c, _, err := s.get(ctx, number)
	return c, err
}

// get returns the case and the revision it was read at.
func (s *Store) get(ctx context.Context, number string) (Case, uint64, error) {
	if err := CheckNumber(number); err != nil {
		return Case{}, 0, err
	}
	e, err := s.kv.Get(ctx, key(number))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Case{}, 0, fmt.Errorf("reading case %s: %w", number, ErrNotFound)
	}
	if err != nil {
		return Case{}, 0, fmt.Errorf("reading case %s: %w", number, err)
	}
	var c Case
	if err := json.Unmarshal(e.Value(), &c); err != nil {
		return Case{}, 0, fmt.Errorf("decoding case %s: %w", number, err)
	}
	c.normalize()
	return c, e.Revision(), nil
}

// List returns every case, the most recently updated first.
func (s *Store) List(ctx context.Context) ([]Case, error) {
	kl, err := s.kv.ListKeys(ctx)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return []Case{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing cases: %w", err)
	}
	var keys []string
	for k := range kl.Keys() {
		keys = append(keys, k)
	}
	out := make([]Case, 0, len(keys))
	for _, k := range keys {
		e, err := s.kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // deleted since it was listed
		}
		if err != nil {
			return nil, fmt.Errorf("reading case key %s: %w", k, err)
		}
		var c Case
		if err := json.Unmarshal(e.Value(), &c); err != nil {
			return nil, fmt.Errorf("decoding case key %s: %w", k, err)
		}
		c.normalize()
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Case) int {
		return cmp.Or(b.Updated.Compare(a.Updated), strings.Compare(a.Number, b.Number))
	})
	return out, nil
}

// modify reads the case, applies change and, when change reports a
// change, sets Updated and writes the case back at the revision it read,
// again from the start when another writer came first. It returns the
// case as written (or as read, when nothing changed).
func (s *Store) modify(ctx context.Context, number string, change func(c *Case, now time.Time) bool) (Case, error) {
	for attempt := range maxAttempts {
		c, rev, err := s.get(ctx, number)
		if err != nil {
			return Case{}, err
		}
		now := s.now()
		if !change(&c, now) {
			return c, nil
		}
		c.Updated = now
		data, err := json.Marshal(c)
		if err != nil {
			return Case{}, fmt.Errorf("encoding case %s: %w", number, err)
		}
		_, err = s.kv.Update(ctx, key(number), data, rev)
		if err == nil {
			return c, nil
		}
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return Case{}, fmt.Errorf("writing case %s: %w", number, err)
		}
		// Another writer came first: wait a little, at random, so that
		// many writers do not keep colliding in step.
		select {
		case <-ctx.Done():
			return Case{}, fmt.Errorf("writing case %s: %w", number, ctx.Err())
		case <-time.After(time.Duration(rand.IntN(attempt+1)+1) * time.Millisecond):
		}
	}
	return Case{}, fmt.Errorf("updating case %s: %w", number, errContention)
}

// addOnce appends v to *list unless it is there; it reports whether it
// appended.
func addOnce(list *[]string, v string) bool {
	if slices.Contains(*list, v) {
		return false
	}
	*list = append(*list, v)
	return true
}

// remove deletes v from *list; it reports whether it was there.
func remove(list *[]string, v string) bool {
	n := len(*list)
	*list = slices.DeleteFunc(*list, func(x string) bool { return x == v })
	return len(*list) != n
}

// AddNote appends a note by by to the case.
func (s *Store) AddNote(ctx context.Context, number, by, text string) (Case, error) {
	by, err := checkID("author", by)
	if err != nil {
		return Case{}, err
	}
	if text, err = checkText("note", text, MaxTextLen); err != nil {
		return Case{}, err
	}
	return s.modify(ctx, number, func(c *Case, now time.Time) bool {
		c.Notes = append(c.Notes, Note{At: now, By: by, Text: text})
		return true
	})
}

// AddSearch records a search by by for the case.
func (s *Store) AddSearch(ctx context.Context, number, by, query string) (Case, error) {
	by, err := checkID("searcher", by)
	if err != nil {
		return Case{}, err
	}
	if query, err = checkText("query", query, MaxTextLen); err != nil {
		return Case{}, err
	}
	return s.modify(ctx, number, func(c *Case, now time.Time) bool {
		c.Searches = append(c.Searches, Search{At: now, By: by, Query: query})
		return true
	})
}

// Assign sets who is assigned to the case: names replace the assignees
// (sorted, each once); no names leaves the case unassigned.
func (s *Store) Assign(ctx context.Context, number string, names []string) (Case, error) {
	set := make([]string, 0, len(names))
	for _, n := range names {
		n, err := checkID("assignee", n)
		if err != nil {
			return Case{}, err
		}
		set = append(set, n)
	}
	slices.Sort(set)
	set = slices.Compact(set)
	return s.modify(ctx, number, func(c *Case, _ time.Time) bool {
		if slices.Equal(c.Assignees, set) {
			return false
		}
		c.Assignees = set
		return true
	})
}

// AddProfile adds a profile to the case, once.
func (s *Store) AddProfile(ctx context.Context, number, profile string) (Case, error) {
	return s.editList(ctx, number, "profile", profile, func(c *Case) *[]string { return &c.Profiles }, addOnce)
}

// RemoveProfile removes a profile from the case.
func (s *Store) RemoveProfile(ctx context.Context, number, profile string) (Case, error) {
	return s.editList(ctx, number, "profile", profile, func(c *Case) *[]string { return &c.Profiles }, remove)
}

// AddAd adds an ad to the case, once.
func (s *Store) AddAd(ctx context.Context, number, ad string) (Case, error) {
	return s.editList(ctx, number, "ad", ad, func(c *Case) *[]string { return &c.Ads }, addOnce)
}

// RemoveAd removes an ad from the case.
func (s *Store) RemoveAd(ctx context.Context, number, ad string) (Case, error) {
	return s.editList(ctx, number, "ad", ad, func(c *Case) *[]string { return &c.Ads }, remove)
}

// editList applies edit to one list of the case with a checked id.
func (s *Store) editList(ctx context.Context, number, what, id string, list func(*Case) *[]string, edit func(*[]string, string) bool) (Case, error) {
	id, err := checkID(what+" id", id)
	if err != nil {
		return Case{}, err
	}
	return s.modify(ctx, number, func(c *Case, _ time.Time) bool { return edit(list(c), id) })
}

// SetTitle changes the title of the case.
func (s *Store) SetTitle(ctx context.Context, number, title string) (Case, error) {
	title, err := checkTitle(title)
	if err != nil {
		return Case{}, err
	}
	return s.modify(ctx, number, func(c *Case, _ time.Time) bool {
		if c.Title == title {
			return false
		}
		c.Title = title
		return true
	})
}

// Close marks the case closed; the store itself needs no closing.
func (s *Store) Close(ctx context.Context, number string) (Case, error) {
	return s.setClosed(ctx, number, true)
}

// Reopen reopens a closed case.
func (s *Store) Reopen(ctx context.Context, number string) (Case, error) {
	return s.setClosed(ctx, number, false)
}

func (s *Store) setClosed(ctx context.Context, number string, closed bool) (Case, error) {
	return s.modify(ctx, number, func(c *Case, _ time.Time) bool {
		if c.Closed == closed {
			return false
		}
		c.Closed = closed
		return true
	})
}
