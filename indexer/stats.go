package indexer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"
	index "github.com/blevesearch/bleve_index_api"
)

// globalQuery is a query that scores in each shard as it would in one
// index of every shard: bleve scores a term by the number of documents
// and of those holding the term, and expands a prefix or a range to the
// terms the dictionary holds, each of which weighs in the score; in a
// shard alone all three are the shard's. globalQuery hands the query a
// reader of the shard whose document count, term counts and dictionaries
// are those of every shard, so that a search of the shards finds the same
// ads with the same scores, in the same order, as the one index did.
type globalQuery struct {
	query.Query
	readers []index.IndexReader
	docs    uint64

	mu     sync.Mutex
	counts map[string]uint64 // field "\x00" term -> documents
	// dicts are the merged dictionaries asked for, and has the terms
	// looked up, by field and term (or range, or prefix): each shard's
	// searcher asks for the same ones.
	dicts map[string][]index.DictEntry
	has   map[string]bool
	// perShard are the dictionaries read, by key, one a shard (in the
	// order of readers).
	perShard map[string][][]index.DictEntry
}

// newGlobalQuery wraps q with the counts of the shards. close releases them.
func newGlobalQuery(q query.Query, shards []bleve.Index) (*globalQuery, error) {
	g := &globalQuery{Query: q, counts: map[string]uint64{}, dicts: map[string][]index.DictEntry{}, has: map[string]bool{},
		perShard: map[string][][]index.DictEntry{}}
	for _, bi := range shards {
		ai, err := bi.Advanced()
		if err != nil {
			g.close()
			return nil, fmt.Errorf("reading a shard: %w", err)
		}
		r, err := ai.Reader()
		if err != nil {
			g.close()
			return nil, fmt.Errorf("reading a shard: %w", err)
		}
		g.readers = append(g.readers, r)
		n, err := r.DocCount()
		if err != nil {
			g.close()
			return nil, fmt.Errorf("counting a shard's ads: %w", err)
		}
		g.docs += n
	}
	return g, nil
}

func (g *globalQuery) close() {
	for _, r := range g.readers {
		_ = r.Close()
	}
	g.readers = nil
}

// Searcher is the query's searcher in one shard, reading its counts and
// dictionaries from every shard.
func (g *globalQuery) Searcher(ctx context.Context, i index.IndexReader, m mapping.IndexMapping, options search.SearcherOptions) (search.Searcher, error) {
	return g.Query.Searcher(ctx, &globalReader{IndexReader: i, g: g}, m, options)
}

// count is the number of documents of every shard with term in field.
func (g *globalQuery) count(ctx context.Context, term []byte, field string) (uint64, error) {
	key := field + "\x00" + string(term)
	g.mu.Lock()
	defer g.mu.Unlock()
	if n, ok := g.counts[key]; ok {
		return n, nil
	}
	var n uint64
	for _, r := range g.readers {
		tfr, err := r.TermFieldReader(ctx, term, field, false, false, false)
		if err != nil {
			return 0, err
		}
		n += tfr.Count()
		_ = tfr.Close()
	}
	g.counts[key] = n
	return n, nil
}

// dict merges the dictionaries open returns of every shard, once per key.
func (g *globalQuery) dict(key string, open func(r index.IndexReader) (index.FieldDict, error)) (index.FieldDict, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if entries, ok := g.dicts[key]; ok {
		return &mergedDict{entries: entries}, nil
	}
	per, err := g.shardDictsLocked(key, open)
	if err != nil {
		return nil, err
	}
	sum := map[string]uint64{}
	for _, entries := range per {
		for _, e := range entries {
			sum[e.Term] += e.Count
		}
	}
	md := &mergedDict{entries: make([]index.DictEntry, 0, len(sum))}
	for t, n := range sum {
		md.entries = append(md.entries, index.DictEntry{Term: t, Count: n})
	}
	slices.SortFunc(md.entries, func(a, b index.DictEntry) int {
		switch {
		case a.Term < b.Term:
			return -1
		case a.Term > b.Term:
			return 1
		}
		return 0
	})
	g.dicts[key] = md.entries
	return md, nil
}

// shardDictsLocked reads the dictionary open returns of each shard, once
// per key: the dictionaries of a look-up are read once whether a shard
// is asked whether it may match (shardReader) or the shards' dictionaries
// are merged (dict). The caller holds g.mu.
func (g *globalQuery) shardDictsLocked(key string, open func(r index.IndexReader) (index.FieldDict, error)) ([][]index.DictEntry, error) {
	if per, ok := g.perShard[key]; ok {
		return per, nil
	}
	per := make([][]index.DictEntry, len(g.readers))
	for i, r := range g.readers {
		d, err := open(r)
		if err != nil {
			return nil, err
		}
		for {
			e, err := d.Next()
			if err != nil {
				d.Close()
				return nil, err
			}
			if e == nil {
				break
			}
			per[i] = append(per[i], index.DictEntry{Term: e.Term, Count: e.Count})
		}
		d.Close()
	}
	g.perShard[key] = per
	return per, nil
}

// shardReader is the reader of shard i alone, whose term ranges and
// prefixes come from the dictionaries globalQuery reads once a search.
type shardReader struct {
	index.IndexReader
	g *globalQuery
	i int
}

func (r *shardReader) dict(key string, open func(r index.IndexReader) (index.FieldDict, error)) (index.FieldDict, error) {
	r.g.mu.Lock()
	defer r.g.mu.Unlock()
	per, err := r.g.shardDictsLocked(key, open)
	if err != nil {
		return nil, err
	}
	return &mergedDict{entries: per[r.i]}, nil
}

func (r *shardReader) FieldDictRange(field string, start, end []byte) (index.FieldDict, error) {
	return r.dict(rangeKey(field, start, end), func(s index.IndexReader) (index.FieldDict, error) { return s.FieldDictRange(field, start, end) })
}

func (r *shardReader) FieldDictPrefix(field string, prefix []byte) (index.FieldDict, error) {
	return r.dict(prefixKey(field, prefix), func(s index.IndexReader) (index.FieldDict, error) { return s.FieldDictPrefix(field, prefix) })
}

func rangeKey(field string, start, end []byte) string {
	return "r\x00" + field + "\x00" + string(start) + "\x00" + string(end)
}

func prefixKey(field string, prefix []byte) string {
	return "p\x00" + field + "\x00" + string(prefix)
}

// globalReader is a shard's reader with every shard's counts and
// dictionaries.
type globalReader struct {
	index.IndexReader
	g *globalQuery
}

func (r *globalReader) DocCount() (uint64, error) { return r.g.docs, nil }

func (r *globalReader) TermFieldReader(ctx context.Context, term []byte, field string, includeFreq, includeNorm, includeTermVectors bool) (index.TermFieldReader, error) {
	tfr, err := r.IndexReader.TermFieldReader(ctx, term, field, includeFreq, includeNorm, includeTermVectors)
	if err != nil {
		return nil, err
	}
	n, err := r.g.count(ctx, term, field)
	if err != nil {
		_ = tfr.Close()
		return nil, err
	}
	return &globalTermReader{TermFieldReader: tfr, count: n}, nil
}

func (r *globalReader) FieldDict(field string) (index.FieldDict, error) {
	return r.g.dict("d\x00"+field, func(s index.IndexReader) (index.FieldDict, error) { return s.FieldDict(field) })
}

func (r *globalReader) FieldDictRange(field string, start, end []byte) (index.FieldDict, error) {
	return r.g.dict(rangeKey(field, start, end), func(s index.IndexReader) (index.FieldDict, error) { return s.FieldDictRange(field, start, end) })
}

func (r *globalReader) FieldDictPrefix(field string, prefix []byte) (index.FieldDict, error) {
	return r.g.dict(prefixKey(field, prefix), func(s index.IndexReader) (index.FieldDict, error) { return s.FieldDictPrefix(field, prefix) })
}

// FieldDictContains says whether any shard holds a term.
func (r *globalReader) FieldDictContains(field string) (index.FieldDictContains, error) {
	var cs []index.FieldDictContains
	for _, s := range r.g.readers {
		rc, ok := s.(index.IndexReaderContains)
		if !ok {
			return nil, errors.New("a shard's reader cannot look up terms")
		}
		c, err := rc.FieldDictContains(field)
		if err != nil {
			return nil, err
		}
		cs = append(cs, c)
	}
	return &anyContains{g: r.g, field: field, cs: cs}, nil
}

// anyContains looks a term up in every shard, once per search.
type anyContains struct {
	g     *globalQuery
	field string
	cs    []index.FieldDictContains
}

func (a *anyContains) Contains(term []byte) (bool, error) {
	key := a.field + "\x00" + string(term)
	a.g.mu.Lock()
	has, ok := a.g.has[key]
	a.g.mu.Unlock()
	if ok {
		return has, nil
	}
	for _, c := range a.cs {
		ok, err := c.Contains(term)
		if err != nil {
			return false, err
		}
		if ok {
			has = true
			break
		}
	}
	a.g.mu.Lock()
	a.g.has[key] = has
	a.g.mu.Unlock()
	return has, nil
}

func (a *anyContains) BytesRead() uint64 {
	var n uint64
	for _, c := range a.cs {
		n += c.BytesRead()
	}
	return n
}

// globalTermReader is a shard's term reader counting every shard's
// documents with the term.
type globalTermReader struct {
	index.TermFieldReader
	count uint64
}

func (t *globalTermReader) Count() uint64 { return t.count }

// mergedDict is a dictionary of terms in order.
type mergedDict struct {
	entries []index.DictEntry
	next    int
}

func (d *mergedDict) Next() (*index.DictEntry, error) {
	if d.next >= len(d.entries) {
		return nil, nil
	}
	d.next++
	return &d.entries[d.next-1], nil
}

func (d *mergedDict) Close() error      { return nil }
func (d *mergedDict) Cardinality() int  { return len(d.entries) }
func (d *mergedDict) BytesRead() uint64 { return 0 }
