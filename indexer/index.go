// Package indexer keeps adwatch's searchable view of the ads: a bleve
// index of ads (dates as dates, phones as keywords) in monthly shards
// searched as one (shards.go), and a Linker that groups ads into profiles
// and profiles into networks. The index is a view: it can be rebuilt from
// the ads stream at any time.
package indexer

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis/lang/es"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/search/query"

	"github.com/adwatch/adwatch/extractor/phone"
	"github.com/adwatch/adwatch/internal/record"
)

// doc is what bleve indexes for one ad.
type doc struct {
	ID          string    `json:"id"`
	Site        string    `json:"site"`
	URL         string    `json:"url"`
	PostedAt    time.Time `json:"posted_at"`
	City        string    `json:"city"`
	Title       string    `json:"title"`
	Body        string    `json:"body"`
	Poster      string    `json:"poster"`
	Phones      []string  `json:"phones"`
	PhoneDigits []string  `json:"phone_digits"`
	Ages        []float64 `json:"ages"`
	ImageSHA    []string  `json:"image_sha"`
	Indicators  []string  `json:"indicators"`
	Handles     []string  `json:"handles"`
	PageSHA     string    `json:"page_sha"`
	Source      string    `json:"source"`
	// For search: the national numbers' digits reversed (a number's last
	// digits are a prefix of it), the indicator categories, the stated
	// ages' bands and the month posted. An index made before they existed
	// lacks them: its ads do not match them until adwatch reindex.
	PhoneRev   []string `json:"phone_rev"`
	Categories []string `json:"categories"`
	AgeBands   []string `json:"age_bands"`
	Month      string   `json:"month"`
	// Lang is "es" for an ad in Spanish ("" otherwise), and TextES its
	// title and body again, analyzed as Spanish (stems, accents folded,
	// Spanish stop words), so that "jovencitas" finds "jovencita". An index
	// made before they existed drops them: its Spanish ads are found by
	// the English fields only until adwatch reindex.
	Lang   string `json:"lang,omitempty"`
	TextES string `json:"text_es,omitempty"`
}

// BleveType names the document mapping (bleve reads the Go field name
// otherwise).
func (doc) BleveType() string { return "ad" }

// newMapping indexes only what is searched and stores only what is shown:
// every query names its field (no _all), none is a phrase (no term
// vectors), only the facets read doc values, and a hit shows its ad from
// the one stored field, source.
func newMapping() mapping.IndexMapping {
	lean := func(m *mapping.FieldMapping) *mapping.FieldMapping {
		m.Store, m.IncludeInAll, m.IncludeTermVectors, m.DocValues = false, false, false, false
		return m
	}
	kw := lean(bleve.NewKeywordFieldMapping())
	facet := lean(bleve.NewKeywordFieldMapping())
	facet.DocValues = true
	txt := lean(bleve.NewTextFieldMapping())
	txt.Analyzer = "en"
	txtES := lean(bleve.NewTextFieldMapping())
	txtES.Analyzer = es.AnalyzerName
	dt := lean(bleve.NewDateTimeFieldMapping())
	num := lean(bleve.NewNumericFieldMapping())
	src := lean(bleve.NewTextFieldMapping())
	src.Index = false
	src.Store = true

	// id, url, image_sha, indicators and page_sha are not searched: the
	// static mapping leaves them out.
	dm := bleve.NewDocumentStaticMapping()
	for _, f := range []string{"phones", "phone_digits", "handles", "phone_rev", "lang"} {
		dm.AddFieldMappingsAt(f, kw)
	}
	for _, f := range []string{"city", "site", "categories", "age_bands", "month"} {
		dm.AddFieldMappingsAt(f, facet)
	}
	for _, f := range []string{"title", "body", "poster"} {
		dm.AddFieldMappingsAt(f, txt)
	}
	dm.AddFieldMappingsAt("text_es", txtES)
	dm.AddFieldMappingsAt("posted_at", dt)
	dm.AddFieldMappingsAt("ages", num)
	dm.AddFieldMappingsAt("source", src)

	im := bleve.NewIndexMapping()
	im.AddDocumentMapping("ad", dm)
	im.DefaultMapping = dm
	im.DefaultType = "ad"
	return im
}

func toDoc(a *record.Ad) (doc, error) {
	src, err := json.Marshal(a)
	if err != nil {
		return doc{}, fmt.Errorf("encoding ad %s: %w", a.ID, err)
	}
	d := doc{
		ID: a.ID, Site: a.Site, URL: a.URL, PostedAt: a.PostedAt, City: strings.ToLower(a.City),
		Title: a.Title, Body: a.Body, Poster: a.Poster, PageSHA: a.PageSHA256, Source: string(src), Handles: a.Handles,
	}
	// The phones and handles of earlier versions are searched too.
	phones := a.PhoneNumbers()
	for _, v := range a.Versions {
		for _, p := range v.Phones {
			if !slices.Contains(phones, p) {
				phones = append(phones, p)
			}
		}
		for _, h := range v.Handles {
			if !slices.Contains(d.Handles, h) {
				d.Handles = append(slices.Clip(d.Handles), h)
			}
		}
	}
	for _, p := range phones {
		d.Phones = append(d.Phones, p)
		digits := strings.TrimPrefix(strings.TrimPrefix(p, "+"), "1")
		d.PhoneDigits = append(d.PhoneDigits, digits)
		d.PhoneRev = append(d.PhoneRev, reverse(digits))
	}
	for _, n := range a.Ages {
		d.Ages = append(d.Ages, float64(n))
		if b := AgeBand(n); !slices.Contains(d.AgeBands, b) {
			d.AgeBands = append(d.AgeBands, b)
		}
	}
	if text := a.Title + "\n" + a.Body; phone.Spanish(text) {
		d.Lang, d.TextES = LangSpanish, text
	}
	if !a.PostedAt.IsZero() {
		d.Month = a.PostedAt.UTC().Format("2006-01")
	}
	for _, img := range a.Images {
		if img.SHA256 != "" {
			d.ImageSHA = append(d.ImageSHA, img.SHA256)
		}
	}
	for _, in := range a.Indicators {
		d.Indicators = append(d.Indicators, in.Category+":"+in.Term)
		if !slices.Contains(d.Categories, in.Category) {
			d.Categories = append(d.Categories, in.Category)
		}
	}
	return d, nil
}

// Index is the bleve index of ads, in monthly shards (shards.go),
// together with their links.
type Index struct {
	bleve  *shardSet
	Linker *Linker

	path     string // the home bleve index's directory
	readOnly bool
	log      *slog.Logger

	mu    sync.Mutex
	pages map[string]uint64 // ad id -> version indexed (pageDigest of record.Ad.Version)
	// The linker's saved state (state.go): the index's batch sequence
	// number and instance id, the batch the state file holds, the ads
	// linked since it was written, and whether the linker differs from it.
	seq, savedSeq uint64
	instance      string
	sinceSave     int
	dirty         bool
	// pendingRedirects are the redirects linking made that are not yet
	// written (redirects.go).
	pendingRedirects map[string]string
	// outbox holds the ads indexed whose profile updates are not yet
	// published (outbox.go).
	outbox map[string]bool
	// unmapState releases the mapped state file the linker was read from
	// (state.go); nil when none is.
	unmapState func() error
}

// pageDigest is what the index keeps of an ad's page version
// (record.Ad.Version), to tell a page it has from a new or edited one:
// the first 8 bytes of the version's SHA-256, and 0 for no version, as an
// ad not indexed has. A million versions of 64 characters and more were
// 100 MB of a writable index's heap.
func pageDigest(version string) uint64 {
	if version == "" {
		return 0
	}
	sum := sha256.Sum256([]byte(version))
	return binary.LittleEndian.Uint64(sum[:8])
}

// ErrLocked is returned when another process has the index open.
var ErrLocked = errors.New("index in use by another adwatch process")

// Open opens the index under dir, creating it when absent, with the links
// of the indexed ads: saved with the index, or rebuilt from its ads when
// they are not (see state.go). It logs nothing.
func Open(dir string, phashThreshold, maxProfilesPerLink int, readOnly bool) (*Index, error) {
	return OpenLogged(dir, phashThreshold, maxProfilesPerLink, readOnly, nil)
}

// OpenLogged is Open logging to log why the links are rebuilt.
func OpenLogged(dir string, phashThreshold, maxProfilesPerLink int, readOnly bool, log *slog.Logger) (*Index, error) {
	return open(dir, phashThreshold, maxProfilesPerLink, readOnly, true, log)
}

// OpenHeld opens the index under dir writable, without its links: what
// adwatch reindex holds while it builds the new index beside it, so that
// no other process opens the old one meanwhile and its redirects can be
// kept (KeepRedirects). The linker's state, a large part of a serving
// process's memory, is not read. Only Count, KeepRedirects (as its old
// argument) and Close may be called on it.
func OpenHeld(dir string, log *slog.Logger) (*Index, error) {
	return open(dir, 0, 0, false, false, log)
}

// open is OpenLogged, without reading the links unless withLinker.
func open(dir string, phashThreshold, maxProfilesPerLink int, readOnly, withLinker bool, log *slog.Logger) (*Index, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	path := filepath.Join(dir, "index.bleve")
	var bi bleve.Index
	var err error
	if _, statErr := os.Stat(path); errors.Is(statErr, os.ErrNotExist) {
		if readOnly {
			return nil, fmt.Errorf("opening index %s: no index yet; run adwatch run first", path)
		}
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("creating data dir: %w", err)
		}
		bi, err = bleve.New(path, newMapping())
	} else {
		bi, err = bleve.OpenUsing(path, map[string]interface{}{"read_only": readOnly, "bolt_timeout": "2s"})
	}
	if err != nil {
		if strings.Contains(err.Error(), "timeout") {
			return nil, fmt.Errorf("opening index %s: %w", path, ErrLocked)
		}
		return nil, fmt.Errorf("opening index %s: %w", path, err)
	}
	shards, err := openShards(path, bi, readOnly)
	if err != nil {
		bi.Close()
		return nil, err
	}
	x := &Index{bleve: shards, path: path, readOnly: readOnly, log: log, pendingRedirects: map[string]string{}}
	if !readOnly {
		if err := x.migrateRedirects(); err != nil {
			shards.Close()
			return nil, err
		}
	}
	if !withLinker {
		return x, nil
	}
	dirty, err := x.loadLinker(phashThreshold, maxProfilesPerLink)
	if err != nil {
		shards.Close()
		return nil, err
	}
	if x.dirty = dirty; dirty {
		if err := x.saveState(); err != nil {
			if x.unmapState != nil {
				_ = x.unmapState()
			}
			shards.Close()
			return nil, err
		}
	}
	if err := x.loadOutbox(); err != nil {
		if x.unmapState != nil {
			_ = x.unmapState()
		}
		shards.Close()
		return nil, err
	}
	return x, nil
}

// relink reads every indexed ad once to rebuild the links.
func (x *Index) relink() error {
	var ads []record.Ad
	err := x.each(bleve.NewMatchAllQuery(), func(a record.Ad) error {
		ads = append(ads, a)
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading ads to relink: %w", err)
	}
	for i := range ads {
		x.Linker.Add(&ads[i])
		x.pages[ads[i].ID] = pageDigest(ads[i].Version())
	}
	// Relinking in id order makes redirects of its own; only the saved
	// ones are history.
	x.Linker.TakeRedirects()
	return x.loadRedirects()
}

// Close saves the linker's state, unless the index is read-only or the
// state is saved already, and closes the index.
func (x *Index) Close() error {
	x.mu.Lock()
	var err error
	if !x.readOnly && x.Linker != nil {
		err = x.writeRedirects()
	}
	if x.dirty && err == nil {
		err = x.saveState()
	}
	if x.unmapState != nil {
		// Nothing may read the mapped state after: what the linker
		// had not decoded reads as empty.
		x.Linker.dropEncoded()
		err = errors.Join(err, x.unmapState())
		x.unmapState = nil
	}
	x.mu.Unlock()
	return errors.Join(err, x.bleve.Close())
}

// Put indexes ads in one batch, skipping ads already indexed with the same
// page, and links them. It returns the ads whose profile changed.
func (x *Index) Put(ads []record.Ad) ([]string, error) {
	changed, _, err := x.put(ads)
	return changed, err
}

// put is Put, also returning the ads it indexed (from ads, an edited
// one with its earlier versions added): as stored, so that the stage
// publishes their updates without reading them back.
func (x *Index) put(ads []record.Ad) ([]string, []*record.Ad, error) {
	w, err := x.write(ads)
	if err != nil || w == nil {
		return nil, nil, err
	}
	changed, err := x.link(w, true)
	if err != nil {
		return nil, nil, err
	}
	return changed, w.fresh, nil
}

// written is one batch write leaves for linking.
type written struct {
	fresh  []*record.Ad
	facts  []facts // fresh's, in order
	edited []string
}

// write is Put's first half: it indexes the ads that are new or changed
// in one bleve batch, with the outbox and the batch's journal, and works
// out what they offer for linking. It returns nil when every ad was
// indexed already. link must follow, batch after batch in order.
func (x *Index) write(ads []record.Ad) (*written, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	db := x.bleve.newDocBatch()
	b := db.home
	w := &written{}
	for i := range ads {
		a := &ads[i]
		if x.pages[a.ID] == pageDigest(a.Version()) {
			continue
		}
		if _, known := x.pages[a.ID]; known {
			// An edited ad keeps what it said before.
			old, ok, err := x.Get(a.ID)
			if err != nil {
				return nil, fmt.Errorf("reading the earlier version of ad %s: %w", a.ID, err)
			}
			if ok && len(a.Versions) == 0 {
				a.Versions = append(slices.Clone(old.Versions), old.Earlier())
			}
			w.edited = append(w.edited, a.ID)
		}
		d, err := toDoc(a)
		if err != nil {
			return nil, err
		}
		if err := x.bleve.index(db, a, d); err != nil {
			return nil, err
		}
		w.fresh = append(w.fresh, a)
	}
	if len(w.fresh) == 0 {
		return nil, nil
	}
	// The fresh ads wait in the outbox, in the same batch, until their
	// profile updates are published (Published).
	ids := make([]string, len(w.fresh))
	for i, a := range w.fresh {
		ids[i] = a.ID
	}
	outbox, err := x.outboxValue(ids)
	if err != nil {
		return nil, err
	}
	b.SetInternal(outboxKey, outbox)
	// And the batch is journaled for the linker's saved state.
	seq, journal, err := x.journalValue(ids)
	if err != nil {
		return nil, err
	}
	b.SetInternal(seqKey, seq)
	if x.savedSeq > 0 {
		// Journaled for a catch-up from the saved state. A state saved
		// before any batch (a new index, a rebuild) would catch up by
		// linking every ad, as a relink does; and bleve writes every
		// internal record again at each persist, so a rebuild's journals
		// (a million ids at 1M ads) would be written hundreds of times.
		b.SetInternal(journalKey(x.seq+1), journal)
	}
	if err := x.writeRedirects(); err != nil {
		return nil, err
	}
	// What the ads offer for linking is worked out while bleve writes
	// them.
	w.facts = make([]facts, len(w.fresh))
	var factsDone sync.WaitGroup
	factsDone.Go(func() {
		for i, a := range w.fresh {
			w.facts[i] = factsOf(a)
		}
	})
	err = x.bleve.apply(db)
	factsDone.Wait()
	if err != nil {
		return nil, fmt.Errorf("indexing batch of %d ads: %w", len(w.fresh), err)
	}
	x.seq++
	x.dirty = true
	for _, id := range ids {
		x.outbox[id] = true
	}
	for _, a := range w.fresh {
		x.pages[a.ID] = pageDigest(a.Version())
	}
	return w, nil
}

// link is Put's second half: it links the ads write indexed and returns
// the ads whose profile changed. With save, it saves the linker's state
// every so many ads; a caller that writes the next batch while this one
// links (Rebuild) passes false, since the state is saved for the batches
// written, and Close saves it.
func (x *Index) link(w *written, save bool) ([]string, error) {
	changed := map[string]bool{}
	for i, a := range w.fresh {
		for _, id := range x.Linker.addFacts(a, w.facts[i]) {
			changed[id] = true
		}
	}
	// An edited ad is evaluated again at once.
	for _, id := range w.edited {
		changed[id] = true
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	// The redirects linking made are written with the next write.
	for k, v := range x.Linker.TakeRedirects() {
		x.pendingRedirects[k] = v
	}
	if x.sinceSave += len(w.fresh); save && x.sinceSave >= max(saveEvery, len(x.pages)/10) {
		if err := x.saveState(); err != nil {
			return nil, err
		}
	}
	out := slices.AppendSeq(make([]string, 0, len(changed)), maps.Keys(changed))
	slices.Sort(out)
	return out, nil
}

// Count returns the number of indexed ads.
func (x *Index) Count() (uint64, error) { return x.bleve.DocCount() }

// Get returns one ad by id.
func (x *Index) Get(id string) (record.Ad, bool, error) {
	out, err := x.GetMany([]string{id})
	if err != nil || len(out) == 0 {
		return record.Ad{}, false, err
	}
	return out[0], true, nil
}

// GetMany returns the ads with the given ids, in time order: from the
// shard each lives in.
func (x *Index) GetMany(ids []string) ([]record.Ad, error) {
	groups, err := x.bleve.byShard(ids)
	if err != nil {
		return nil, err
	}
	var out []record.Ad
	for bi, ids := range groups {
		for start := 0; start < len(ids); start += 1000 {
			end := min(start+1000, len(ids))
			c := &cursor{idx: bi, q: query.NewDocIDQuery(ids[start:end])}
			for {
				if err := c.fill(); err != nil {
					return nil, err
				}
				if len(c.hits) == 0 {
					break
				}
				for _, h := range c.hits {
					var a record.Ad
					if err := json.Unmarshal([]byte(h.source), &a); err != nil {
						return nil, fmt.Errorf("decoding stored ad %s: %w", h.id, err)
					}
					out = append(out, a)
				}
			}
		}
	}
	sortAds(out)
	return out, nil
}

func sortAds(ads []record.Ad) {
	sort.Slice(ads, func(i, j int) bool {
		if !ads[i].PostedAt.Equal(ads[j].PostedAt) {
			return ads[i].PostedAt.Before(ads[j].PostedAt)
		}
		return ads[i].ID < ads[j].ID
	})
}

const page = 1000

// each calls f with every ad matching q, in id order.
func (x *Index) each(q query.Query, f func(record.Ad) error) error {
	return x.bleve.each(q, time.Time{}, time.Time{}, f)
}

// Filter selects ads for Ads.
type Filter struct {
	City         string
	Since, Until time.Time
	// Site keeps the ads of one site (its name, as written).
	Site string
}

func (f Filter) query() query.Query {
	var qs []query.Query
	if f.City != "" {
		tq := bleve.NewTermQuery(strings.ToLower(f.City))
		tq.SetField("city")
		qs = append(qs, tq)
	}
	if f.Site != "" {
		tq := bleve.NewTermQuery(f.Site)
		tq.SetField("site")
		qs = append(qs, tq)
	}
	if !f.Since.IsZero() || !f.Until.IsZero() {
		incl, excl := true, false
		dq := bleve.NewDateRangeInclusiveQuery(f.Since, f.Until, &incl, &excl)
		dq.SetField("posted_at")
		qs = append(qs, dq)
	}
	if len(qs) == 0 {
		return bleve.NewMatchAllQuery()
	}
	return bleve.NewConjunctionQuery(qs...)
}

// Ads calls fn with each ad matching f, in id order.
func (x *Index) Ads(f Filter, fn func(record.Ad) error) error {
	return x.bleve.each(f.query(), f.Since, f.Until, fn)
}

// Counts are the ads posted in one city over a time window, the distinct
// profiles among them and their distinct phone numbers.
type Counts struct {
	Ads      int
	Profiles int
	Phones   int
}

// CountPosted counts the ads posted in [from, to) in city, the distinct
// profiles among them and their distinct phone numbers.
func (x *Index) CountPosted(city string, from, to time.Time) (Counts, error) {
	var c Counts
	profiles, phones := map[string]bool{}, map[string]bool{}
	err := x.Ads(Filter{City: city, Since: from, Until: to}, func(a record.Ad) error {
		// bleve's date range has second precision; check the exact bound.
		if a.PostedAt.Before(from) || !a.PostedAt.Before(to) {
			return nil
		}
		c.Ads++
		profiles[x.Linker.Profile(a.ID)] = true
		for _, p := range a.Phones {
			phones[p.E164] = true
		}
		return nil
	})
	if err != nil {
		return Counts{}, fmt.Errorf("counting %s: %w", city, err)
	}
	c.Profiles, c.Phones = len(profiles), len(phones)
	return c, nil
}

// Hit is one ad found by Search.
type Hit struct {
	ID       string    `json:"id"`
	Title    string    `json:"title"`
	City     string    `json:"city"`
	PostedAt time.Time `json:"posted_at"`
	Profile  string    `json:"profile"`
	Score    float64   `json:"score"`
}

// SearchPhones finds ads carrying any of the E.164 numbers.
func (x *Index) SearchPhones(phones []string, limit int) ([]Hit, error) {
	return x.searchKeywords("phones", phones, limit)
}

// SearchHandles finds ads carrying any of the normalized handles.
func (x *Index) SearchHandles(handles []string, limit int) ([]Hit, error) {
	return x.searchKeywords("handles", handles, limit)
}

// searchKeywords finds ads whose keyword field holds any of values.
func (x *Index) searchKeywords(field string, values []string, limit int) ([]Hit, error) {
	var qs []query.Query
	for _, v := range values {
		tq := bleve.NewTermQuery(v)
		tq.SetField(field)
		qs = append(qs, tq)
	}
	return x.search(bleve.NewDisjunctionQuery(qs...), limit)
}

// SearchText finds ads by words in title, body or poster name, in
// English and, in ads in Spanish, in Spanish (see textQuery).
func (x *Index) SearchText(text string, limit int) ([]Hit, error) {
	return x.search(textQuery(text), limit)
}

func (x *Index) search(q query.Query, limit int) ([]Hit, error) {
	req := bleve.NewSearchRequestOptions(q, limit, 0, false)
	req.Fields = []string{"source"}
	// Equal scores in order of id, as Find orders them: merged from
	// several shards, hits of equal score would otherwise come back in
	// the order the shards answered.
	req.SortBy([]string{"-_score", "_id"})
	res, err := x.bleve.searchTop(req, time.Time{}, time.Time{}, nil)
	if err != nil {
		return nil, fmt.Errorf("searching index: %w", err)
	}
	hits := make([]Hit, 0, len(res.Hits))
	for _, h := range res.Hits {
		var a record.Ad
		s, _ := h.Fields["source"].(string)
		if err := json.Unmarshal([]byte(s), &a); err != nil {
			return nil, fmt.Errorf("decoding stored ad %s: %w", h.ID, err)
		}
		hits = append(hits, Hit{ID: h.ID, Score: h.Score, Profile: x.Linker.Profile(h.ID), Title: a.Title, City: a.City, PostedAt: a.PostedAt})
	}
	return hits, nil
}
