package indexer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"
	index "github.com/blevesearch/bleve_index_api"

	"github.com/adwatch/adwatch/internal/record"
)

// The ads are kept in monthly shards: one bleve index per month posted
// (UTC), under index.bleve/shards/<2006-01>.bleve, and one per month
// first seen for the ads whose time posted is unknown
// (undated-<2006-01>.bleve). index.bleve itself is the home index: it
// holds the index's internal records (the linker's sequence and journal,
// the outbox, the redirects) and, in a data dir written before the shards,
// every ad: it is searched along with the shards as a legacy shard, and an
// ad indexed there stays there when edited. Since the shards live inside
// index.bleve, adwatch reindex swaps them in with it.
//
// An ad stays in the shard it was first indexed in, whatever its later
// versions say: the shard of each id is looked up in a map (shardSet.where),
// read from the shards' id dictionaries when first needed. An edited ad
// whose month posted changed is recorded as a stray of its shard (strayKey),
// so that a search by date still opens that shard.
//
// Every shard is opened with the index. CloseShardsBefore closes old ones:
// searches without a date range leave them out; a search whose dates need
// one, or a read or write of one of their ads by id, opens it again.
const shardsDir = "shards"

// undatedPrefix begins the keys of the shards of ads posted at an unknown
// time.
const undatedPrefix = "undated-"

// strayKey is the home index's internal record of the months posted, by
// shard, of the ads a shard holds besides its own month's ("*": an ad with
// no time posted).
var strayKey = []byte("adwatch/shards/strays")

// shard is one bleve index of ads; the home index is the shard with key "".
type shard struct {
	key  string
	path string
	idx  bleve.Index // nil while closed
	// closedCount is the shard's ads when it was closed.
	closedCount uint64
}

// shardSet is the index's shards behind one interface: the internal
// records and their batches go to the home index (as state.go, outbox.go
// and redirects.go write them), the ads to their shards.
type shardSet struct {
	path     string // the home index's directory, index.bleve
	home     bleve.Index
	readOnly bool

	mu     sync.RWMutex
	shards map[string]*shard // by key
	// where is each ad's shard; nil until first needed (lookup).
	where  map[string]*shard
	strays map[string][]string // shard key -> months ("*" undated)
}

// openOptions are bleve's options for opening a shard.
func openOptions(readOnly bool) map[string]interface{} {
	return map[string]interface{}{"read_only": readOnly, "bolt_timeout": "2s"}
}

// openShards opens the shards under the home index at path.
func openShards(path string, home bleve.Index, readOnly bool) (*shardSet, error) {
	s := &shardSet{path: path, home: home, readOnly: readOnly, shards: map[string]*shard{"": {key: "", path: path, idx: home}}}
	entries, err := os.ReadDir(filepath.Join(path, shardsDir))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("listing the index's shards: %w", err)
	}
	for _, e := range entries {
		key, ok := strings.CutSuffix(e.Name(), ".bleve")
		if !ok || !e.IsDir() {
			continue
		}
		sh := &shard{key: key, path: filepath.Join(path, shardsDir, e.Name())}
		if err := s.openShard(sh); err != nil {
			s.closeShards()
			return nil, err
		}
		s.shards[key] = sh
	}
	data, err := home.GetInternal(strayKey)
	if err != nil {
		s.closeShards()
		return nil, fmt.Errorf("reading the shards' strays: %w", err)
	}
	s.strays = map[string][]string{}
	if len(data) > 0 {
		if err := json.Unmarshal(data, &s.strays); err != nil {
			s.closeShards()
			return nil, fmt.Errorf("decoding the shards' strays: %w", err)
		}
	}
	return s, nil
}

// openShard opens (or creates) the bleve index of sh. The caller holds
// s.mu, or has s to itself.
func (s *shardSet) openShard(sh *shard) error {
	if sh.idx != nil {
		return nil
	}
	var bi bleve.Index
	var err error
	if _, statErr := os.Stat(sh.path); errors.Is(statErr, os.ErrNotExist) && !s.readOnly {
		if err := os.MkdirAll(filepath.Dir(sh.path), 0o750); err != nil {
			return fmt.Errorf("creating the shards' directory: %w", err)
		}
		// A new shard maps ads as the home index does: in a data dir
		// written before a change of mapping, as before until adwatch
		// reindex, so that every shard answers alike.
		bi, err = bleve.New(sh.path, s.home.Mapping())
	} else {
		bi, err = bleve.OpenUsing(sh.path, openOptions(s.readOnly))
	}
	if err != nil {
		if strings.Contains(err.Error(), "timeout") {
			return fmt.Errorf("opening shard %s: %w", sh.path, ErrLocked)
		}
		return fmt.Errorf("opening shard %s: %w", sh.path, err)
	}
	sh.idx = bi
	return nil
}

// closeShards closes every shard but the home index.
func (s *shardSet) closeShards() error {
	var errs []error
	for _, sh := range s.shards {
		if sh.key != "" && sh.idx != nil {
			errs = append(errs, sh.idx.Close())
			sh.idx = nil
		}
	}
	return errors.Join(errs...)
}

// Close closes the shards and the home index.
func (s *shardSet) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(s.closeShards(), s.home.Close())
}

// GetInternal reads an internal record of the home index.
func (s *shardSet) GetInternal(key []byte) ([]byte, error) { return s.home.GetInternal(key) }

// SetInternal writes an internal record of the home index.
func (s *shardSet) SetInternal(key, val []byte) error { return s.home.SetInternal(key, val) }

// NewBatch is a batch of the home index (internal records).
func (s *shardSet) NewBatch() *bleve.Batch { return s.home.NewBatch() }

// Batch writes a batch of the home index.
func (s *shardSet) Batch(b *bleve.Batch) error { return s.home.Batch(b) }

// DocCount is the number of ads in every shard (a closed one's as it was
// closed).
func (s *shardSet) DocCount() (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var n uint64
	for _, sh := range s.shards {
		if sh.idx == nil {
			n += sh.closedCount
			continue
		}
		c, err := sh.idx.DocCount()
		if err != nil {
			return 0, err
		}
		n += c
	}
	return n, nil
}

// shardKey is the shard a new ad goes to: its month posted, or, posted at
// an unknown time, its month first seen.
func shardKey(a *record.Ad) string {
	if !a.PostedAt.IsZero() {
		return a.PostedAt.UTC().Format("2006-01")
	}
	seen := a.FetchedAt
	for _, v := range a.Versions {
		if !v.FetchedAt.IsZero() && (seen.IsZero() || v.FetchedAt.Before(seen)) {
			seen = v.FetchedAt
		}
	}
	if seen.IsZero() {
		return "undated"
	}
	return undatedPrefix + seen.UTC().Format("2006-01")
}

// monthOf is the month an ad counts in for the shards' date ranges: its
// month posted, or "*" when unknown.
func monthOf(a *record.Ad) string {
	if a.PostedAt.IsZero() {
		return "*"
	}
	return a.PostedAt.UTC().Format("2006-01")
}

// dated reports whether a shard's ads are all of its month (or strays):
// not the home index nor an undated shard.
func (sh *shard) dated() bool {
	return sh.key != "" && sh.key != "undated" && !strings.HasPrefix(sh.key, undatedPrefix)
}

// buildWhere reads the ids of every shard's ads. The caller holds s.mu.
func (s *shardSet) buildWhere() error {
	if s.where != nil {
		return nil
	}
	where := map[string]*shard{}
	var twice []string
	for _, sh := range s.shards {
		if err := s.openShard(sh); err != nil {
			return err
		}
		d, err := sh.idx.FieldDict("_id")
		if err != nil {
			return fmt.Errorf("reading the ids of shard %q: %w", sh.key, err)
		}
		for {
			e, err := d.Next()
			if err != nil {
				d.Close()
				return fmt.Errorf("reading the ids of shard %q: %w", sh.key, err)
			}
			if e == nil {
				break
			}
			if _, seen := where[e.Term]; seen {
				twice = append(twice, e.Term)
			}
			where[e.Term] = sh
		}
		d.Close()
	}
	// An id in two dictionaries was deleted from one (a purge, then a
	// capture again): it lives where its document is.
	for _, id := range twice {
		delete(where, id)
		for _, sh := range s.shards {
			if doc, err := sh.idx.Document(id); err == nil && doc != nil {
				where[id] = sh
			}
		}
	}
	s.where = where
	return nil
}

// lookup returns the shard of an ad, or nil when it is not indexed, opened.
func (s *shardSet) lookup(id string) (*shard, error) {
	s.mu.RLock()
	sh, built := s.where[id], s.where != nil
	open := sh == nil || sh.idx != nil
	s.mu.RUnlock()
	if built && open {
		return sh, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.buildWhere(); err != nil {
		return nil, err
	}
	sh = s.where[id]
	if sh != nil {
		if err := s.openShard(sh); err != nil {
			return nil, err
		}
	}
	return sh, nil
}

// docBatch is one write of ads and internal records: home's batch and
// each shard's.
type docBatch struct {
	home   *bleve.Batch
	docs   map[*shard]*bleve.Batch
	placed map[string]*shard
	gone   []string
	strays map[string][]string // new strays by shard key
}

func (s *shardSet) newDocBatch() *docBatch {
	return &docBatch{home: s.home.NewBatch(), docs: map[*shard]*bleve.Batch{}, placed: map[string]*shard{}, strays: map[string][]string{}}
}

// batchOf is b's batch of shard sh, opening the shard when it was closed
// meanwhile.
func (s *shardSet) batchOf(b *docBatch, sh *shard) (*bleve.Batch, error) {
	if sb := b.docs[sh]; sb != nil {
		return sb, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.openShard(sh); err != nil {
		return nil, err
	}
	sb := sh.idx.NewBatch()
	b.docs[sh] = sb
	return sb, nil
}

// index adds an ad to b: to the shard its id lives in, or, new, to the
// shard of shardKey (created when absent).
func (s *shardSet) index(b *docBatch, a *record.Ad, d doc) error {
	sh := b.placed[a.ID]
	if sh == nil {
		var err error
		if sh, err = s.lookup(a.ID); err != nil {
			return err
		}
	}
	if sh == nil {
		var err error
		if sh, err = s.shardFor(shardKey(a)); err != nil {
			return err
		}
	}
	sb, err := s.batchOf(b, sh)
	if err != nil {
		return err
	}
	if err := sb.Index(a.ID, d); err != nil {
		return fmt.Errorf("batching ad %s: %w", a.ID, err)
	}
	b.placed[a.ID] = sh
	if m := monthOf(a); sh.dated() && m != sh.key {
		s.mu.RLock()
		known := slices.Contains(s.strays[sh.key], m)
		s.mu.RUnlock()
		if !known && !slices.Contains(b.strays[sh.key], m) {
			b.strays[sh.key] = append(b.strays[sh.key], m)
		}
	}
	return nil
}

// shardFor returns the shard of key, created when absent (batchOf opens
// it when closed).
func (s *shardSet) shardFor(key string) (*shard, error) {
	s.mu.RLock()
	sh := s.shards[key]
	s.mu.RUnlock()
	if sh != nil {
		return sh, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if sh = s.shards[key]; sh != nil {
		return sh, nil
	}
	sh = &shard{key: key, path: filepath.Join(s.path, shardsDir, key+".bleve")}
	if err := s.openShard(sh); err != nil {
		return nil, err
	}
	s.shards[key] = sh
	return sh, nil
}

// delete adds the deletion of an ad to b.
func (s *shardSet) delete(b *docBatch, id string) error {
	sh, err := s.lookup(id)
	if err != nil || sh == nil {
		return err
	}
	sb, err := s.batchOf(b, sh)
	if err != nil {
		return err
	}
	sb.Delete(id)
	b.gone = append(b.gone, id)
	return nil
}

// apply writes b: the home index's records first, then the shards' ads.
// A crash between them leaves ads journaled (state.go) that are not
// indexed, which the next open finds and links again from what is.
func (s *shardSet) apply(b *docBatch) error {
	var strays map[string][]string
	if len(b.strays) > 0 {
		s.mu.RLock()
		strays = make(map[string][]string, len(s.strays)+len(b.strays))
		for k, v := range s.strays {
			strays[k] = slices.Clone(v)
		}
		s.mu.RUnlock()
		for k, v := range b.strays {
			strays[k] = append(strays[k], v...)
			slices.Sort(strays[k])
		}
		data, err := json.Marshal(strays)
		if err != nil {
			return fmt.Errorf("encoding the shards' strays: %w", err)
		}
		b.home.SetInternal(strayKey, data)
	}
	if b.home.Size() > 0 {
		if err := s.home.Batch(b.home); err != nil {
			return err
		}
	}
	// Searches go on while the shards are written; a shard is not
	// closed meanwhile.
	s.mu.RLock()
	for sh, sb := range b.docs {
		if sh.idx == nil {
			s.mu.RUnlock()
			return fmt.Errorf("shard %q closed while written", sh.key)
		}
		if err := sh.idx.Batch(sb); err != nil {
			s.mu.RUnlock()
			return fmt.Errorf("shard %q: %w", sh.key, err)
		}
	}
	s.mu.RUnlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if strays != nil {
		s.strays = strays
	}
	if s.where != nil {
		for id, sh := range b.placed {
			s.where[id] = sh
		}
		for _, id := range b.gone {
			delete(s.where, id)
		}
	}
	return nil
}

// covers reports whether a shard may hold ads posted in [from, until)
// (zero: open).
func (s *shardSet) covers(sh *shard, from, until time.Time) bool {
	if !sh.dated() || (from.IsZero() && until.IsZero()) {
		return true
	}
	for _, m := range append([]string{sh.key}, s.strays[sh.key]...) {
		if m == "*" {
			return true
		}
		start, err := time.Parse("2006-01", m)
		if err != nil {
			return true
		}
		end := start.AddDate(0, 1, 0)
		// bleve compares times to the nanosecond, or truncated to the
		// second: never across a month's first second.
		if (until.IsZero() || start.Before(until)) && (from.IsZero() || end.After(from)) {
			return true
		}
	}
	return false
}

// pick returns the open shards (every one), and those a search of ads
// posted in [from, until) needs, opening any closed one it needs (a date
// range only: an open range searches the open shards).
func (s *shardSet) pick(from, until time.Time) (all, need []bleve.Index, err error) {
	ranged := !from.IsZero() || !until.IsZero()
	s.mu.RLock()
	reopen := false
	for _, sh := range s.shards {
		if sh.idx == nil && ranged && s.covers(sh, from, until) {
			reopen = true
		}
	}
	s.mu.RUnlock()
	if reopen {
		s.mu.Lock()
		for _, sh := range s.shards {
			if sh.idx == nil && s.covers(sh, from, until) {
				if err := s.openShard(sh); err != nil {
					s.mu.Unlock()
					return nil, nil, err
				}
			}
		}
		s.mu.Unlock()
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, k := range s.keys() {
		sh := s.shards[k]
		if sh.idx == nil {
			continue
		}
		all = append(all, sh.idx)
		if s.covers(sh, from, until) {
			need = append(need, sh.idx)
		}
	}
	return all, need, nil
}

// keys are the shards' keys in order. The caller holds s.mu.
func (s *shardSet) keys() []string {
	ks := make([]string, 0, len(s.shards))
	for k := range s.shards {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// search runs req over the shards ads posted in [from, until) need, each
// scoring as one index of every open shard would (globalQuery). Of those,
// when may is not nil, only the shards it says may hold a match are
// searched (the others add nothing: no hit, no count).
func (s *shardSet) search(ctx context.Context, req *bleve.SearchRequest, from, until time.Time, may func(index.IndexReader) (bool, error)) (*bleve.SearchResult, error) {
	all, need, err := s.pick(from, until)
	if err != nil {
		return nil, err
	}
	if len(all) > 1 {
		g, err := newGlobalQuery(req.Query, all)
		if err != nil {
			return nil, err
		}
		defer g.close()
		req.Query = g
		if may != nil && len(need) > 1 {
			reader := make(map[bleve.Index]index.IndexReader, len(all))
			for i, bi := range all {
				reader[bi] = &shardReader{IndexReader: g.readers[i], g: g, i: i}
			}
			kept := need[:0:0]
			for _, bi := range need {
				ok, err := may(reader[bi])
				if err != nil {
					return nil, err
				}
				if ok {
					kept = append(kept, bi)
				}
			}
			if len(kept) > 0 {
				need = kept
			} else {
				need = need[:1]
			}
		}
	}
	if len(need) == 1 {
		return need[0].SearchInContext(ctx, req)
	}
	res, err := bleve.NewIndexAlias(need...).SearchInContext(ctx, req)
	if err == nil && res.Status != nil && res.Status.Failed > 0 {
		// An alias answers with the shards that did not fail; an answer
		// missing a shard is not one.
		var errs []error
		for name, e := range res.Status.Errors {
			errs = append(errs, fmt.Errorf("shard %s: %w", name, e))
		}
		return nil, fmt.Errorf("%d of %d shards failed: %w", res.Status.Failed, len(need), errors.Join(errs...))
	}
	return res, err
}

// searchTop is search for a request ordered best score first, equal
// scores in id order ("-_score", "_id"), in one pass over the matches
// that reads a match's id only when its score ties with one of the best
// kept so far (topHits). bleve's own order by id reads the id of every
// match from its stored fields, a random read a match, and at 1M ads a
// word in a city matches hundreds of thousands; asking for the best by
// score alone and then again by id when a tie crossed the page's end ran
// every broad search twice, since ties are the rule among short ads. The
// total is bleve's; the term facets are counted by topHits (each term's
// count over every shard, in no order: the caller sorts and cuts them);
// the stored text fields asked for are read for the page's hits alone,
// from the snapshot that found them.
func (s *shardSet) searchTop(req *bleve.SearchRequest, from, until time.Time, may func(index.IndexReader) (bool, error)) (*bleve.SearchResult, error) {
	k := req.From + req.Size
	fast := *req
	fast.Sort = search.SortOrder{&search.SortScore{Desc: true}}
	fast.Fields = nil
	fast.From, fast.Size = 0, k
	top := &topHits{n: k, fields: req.Fields}
	defer top.release()
	if len(req.Facets) > 0 {
		for name, fr := range req.Facets {
			if fr.NumericRanges != nil || fr.DateTimeRanges != nil || fr.TermPrefix != "" || fr.TermPattern != "" {
				return nil, fmt.Errorf("facet %s: only whole term facets are counted", name)
			}
		}
		top.facets, fast.Facets = req.Facets, nil
	}
	ctx := context.WithValue(context.Background(), search.MakeDocumentMatchHandlerKey, search.MakeDocumentMatchHandler(top.handler))
	res, err := s.search(ctx, &fast, from, until, may)
	if err != nil {
		return nil, err
	}
	if top.facets != nil {
		res.Facets = top.facetResults()
	}
	hits := top.result()
	hits = hits[min(req.From, len(hits)):]
	if err := top.loadFields(hits); err != nil {
		return nil, err
	}
	res.Hits = hits
	return res, nil
}

// each calls f with every ad matching q posted in [from, until), in id
// order: each shard is read in id order, a page at a time, and the
// shards merged.
func (s *shardSet) each(q query.Query, from, until time.Time, f func(record.Ad) error) error {
	_, need, err := s.pick(from, until)
	if err != nil {
		return err
	}
	cs := make([]*cursor, 0, len(need))
	for _, bi := range need {
		c := &cursor{idx: bi, q: q}
		if err := c.fill(); err != nil {
			return err
		}
		if len(c.hits) > 0 {
			cs = append(cs, c)
		}
	}
	for len(cs) > 0 {
		low := 0
		for i := 1; i < len(cs); i++ {
			if cs[i].hits[0].id < cs[low].hits[0].id {
				low = i
			}
		}
		c := cs[low]
		h := c.hits[0]
		var a record.Ad
		if err := json.Unmarshal([]byte(h.source), &a); err != nil {
			return fmt.Errorf("decoding stored ad %s: %w", h.id, err)
		}
		if err := f(a); err != nil {
			return err
		}
		if c.hits = c.hits[1:]; len(c.hits) == 0 {
			if err := c.fill(); err != nil {
				return err
			}
			if len(c.hits) == 0 {
				cs = slices.Delete(cs, low, low+1)
			}
		}
	}
	return nil
}

// cursor reads one shard's matches in id order, a page at a time.
type cursor struct {
	idx   bleve.Index
	q     query.Query
	after string
	done  bool
	hits  []storedHit
}

type storedHit struct{ id, source string }

// fill reads the next page.
func (c *cursor) fill() error {
	c.hits = c.hits[:0]
	if c.done {
		return nil
	}
	req := bleve.NewSearchRequestOptions(c.q, page, 0, false)
	req.Fields = []string{"source"}
	req.SortBy([]string{"_id"})
	if c.after != "" {
		req.SearchAfter = []string{c.after}
	}
	res, err := c.idx.Search(req)
	if err != nil {
		return fmt.Errorf("searching index: %w", err)
	}
	for _, h := range res.Hits {
		s, _ := h.Fields["source"].(string)
		c.hits = append(c.hits, storedHit{id: h.ID, source: s})
	}
	if len(res.Hits) < page {
		c.done = true
	} else {
		c.after = res.Hits[len(res.Hits)-1].ID
	}
	return nil
}

// byShard groups ids by the shard they live in (ids not indexed left out).
func (s *shardSet) byShard(ids []string) (map[bleve.Index][]string, error) {
	s.mu.RLock()
	built := s.where != nil
	s.mu.RUnlock()
	if !built && len(ids) <= fewIDs {
		return s.searchShards(ids)
	}
	out := map[bleve.Index][]string{}
	for _, id := range ids {
		sh, err := s.lookup(id)
		if err != nil {
			return nil, err
		}
		if sh != nil {
			s.mu.RLock()
			bi := sh.idx
			s.mu.RUnlock()
			if bi != nil {
				out[bi] = append(out[bi], id)
			}
		}
	}
	return out, nil
}

// fewIDs is how many ids byShard looks for in every shard rather than
// reading every shard's ids into the map of where each ad lives (half a
// second at a million ads): a profile's ads, for a read command.
const fewIDs = 256

// searchShards finds the shard of each of a few ids by asking every shard
// for them; an id in none is left out.
func (s *shardSet) searchShards(ids []string) (map[bleve.Index][]string, error) {
	s.mu.Lock()
	var all []*shard
	for _, k := range s.keys() {
		sh := s.shards[k]
		if err := s.openShard(sh); err != nil {
			s.mu.Unlock()
			return nil, err
		}
		all = append(all, sh)
	}
	idxs := make([]bleve.Index, len(all))
	for i, sh := range all {
		idxs[i] = sh.idx
	}
	s.mu.Unlock()
	out := map[bleve.Index][]string{}
	for i, bi := range idxs {
		req := bleve.NewSearchRequestOptions(query.NewDocIDQuery(ids), len(ids), 0, false)
		res, err := bi.Search(req)
		if err != nil {
			return nil, fmt.Errorf("looking for %d ads in shard %q: %w", len(ids), all[i].key, err)
		}
		for _, h := range res.Hits {
			out[bi] = append(out[bi], h.ID)
		}
	}
	return out, nil
}

// closeBefore closes the shards of months before month ("2006-01"), dated
// or undated, and returns their keys.
func (s *shardSet) closeBefore(month string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.buildWhere(); err != nil {
		return nil, err
	}
	var closed []string
	var errs []error
	for _, k := range s.keys() {
		sh := s.shards[k]
		m := strings.TrimPrefix(k, undatedPrefix)
		if k == "" || k == "undated" || sh.idx == nil || m >= month {
			continue
		}
		n, err := sh.idx.DocCount()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := sh.idx.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing shard %q: %w", k, err))
		}
		sh.idx, sh.closedCount = nil, n
		closed = append(closed, k)
	}
	return closed, errors.Join(errs...)
}

// CloseShardsBefore closes the shards of ads posted (or, undated, first
// seen) before month, a time within it: an archive's old months stop
// taking memory and file handles. Searches without dates leave their ads
// out (Count still counts them); a search whose dates reach them, or a
// read or write of one of their ads by id, opens them again. It returns
// the shards closed ("2006-01", "undated-2006-01").
func (x *Index) CloseShardsBefore(month time.Time) ([]string, error) {
	return x.bleve.closeBefore(month.UTC().Format("2006-01"))
}

// compactBefore merges each open shard of a month before month into one
// segment, returning the shards merged. The caller does not hold s.mu. A
// shard closed (CloseShardsBefore) while it runs is left as it is.
func (s *shardSet) compactBefore(ctx context.Context, month string) ([]string, error) {
	type open struct {
		key string
		idx bleve.Index
	}
	s.mu.RLock()
	var todo []open
	for _, k := range s.keys() {
		sh := s.shards[k]
		m := strings.TrimPrefix(k, undatedPrefix)
		if k == "" || k == "undated" || sh.idx == nil || m >= month {
			continue
		}
		todo = append(todo, open{k, sh.idx})
	}
	s.mu.RUnlock()
	closed := func(o open) bool {
		s.mu.RLock()
		defer s.mu.RUnlock()
		sh := s.shards[o.key]
		return sh == nil || sh.idx != o.idx
	}
	var done []string
	for _, o := range todo {
		if err := ctx.Err(); err != nil {
			return done, err
		}
		ai, err := o.idx.Advanced()
		if err != nil {
			if closed(o) {
				continue
			}
			return done, fmt.Errorf("compacting shard %q: %w", o.key, err)
		}
		sc, ok := ai.(*scorch.Scorch)
		if !ok || segments(sc) <= 1 {
			continue
		}
		if err := sc.ForceMerge(ctx, nil); err != nil {
			if closed(o) {
				continue
			}
			return done, fmt.Errorf("compacting shard %q: %w", o.key, err)
		}
		// ForceMerge returns nil when ctx ends mid-way: that shard is
		// not compacted.
		if err := ctx.Err(); err != nil {
			return done, err
		}
		done = append(done, o.key)
	}
	return done, nil
}

// segments is the number of segments of a shard's current snapshot.
func segments(sc *scorch.Scorch) uint64 {
	m := sc.StatsMap()
	n := func(k string) uint64 { v, _ := m[k].(uint64); return v }
	return n("num_root_filesegments") + n("num_root_memorysegments")
}

// CompactShardsBefore merges the files of each open shard of ads posted
// (or, undated, first seen) before month, a time within it, into one:
// a month that is over takes few writes, and a look-up reads each file's
// dictionary, so an archive of years answers as fast as its months are
// few. Searching and indexing go on while it runs. It returns the shards
// compacted; a shard of one file already is left as it is.
func (x *Index) CompactShardsBefore(ctx context.Context, month time.Time) ([]string, error) {
	if x.readOnly {
		return nil, errors.New("compacting shards: the index is open read-only")
	}
	return x.bleve.compactBefore(ctx, month.UTC().Format("2006-01"))
}
