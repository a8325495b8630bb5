package indexer

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/search"
	index "github.com/blevesearch/bleve_index_api"
	segment "github.com/blevesearch/scorch_segment_api/v2"
)

// topHits keeps the best n matches of a search, best score first and
// equal scores in id order, as bleve's handler of each shard's matches
// (search.MakeDocumentMatchHandlerKey). Each shard keeps its best n in a
// heap whose root is the worst kept; a match's id is read only when the
// heap compares it with a kept match of the same score. When a shard is
// done, the ids of the matches it kept are read and the shards' best
// merged.
type topHits struct {
	n int
	// facets are the term facets to count, by name; nil counts none.
	facets bleve.FacetsRequest
	// fields are the stored text fields to read for the page's hits.
	fields []string

	mu     sync.Mutex
	hits   search.DocumentMatchCollection
	counts map[string]map[string]int // facet name -> term -> matches
	// snap is the snapshot each kept hit was found in, held (AddRef)
	// until release so that its fields are read from it.
	snap map[*search.DocumentMatch]*scorch.IndexSnapshot
	held []*scorch.IndexSnapshot
}

// handler makes the handler of one shard's matches.
func (t *topHits) handler(sctx *search.SearchContext) (search.DocumentMatchHandler, bool, error) {
	h := &shardTop{n: t.n, r: sctx.IndexReader}
	snap, ok := sctx.IndexReader.(*scorch.IndexSnapshot)
	if !ok && (t.facets != nil || len(t.fields) > 0) {
		return nil, false, fmt.Errorf("searching: the index reader is a %T, not a scorch snapshot", sctx.IndexReader)
	}
	var m *matchSet
	if t.facets != nil {
		m = newMatchSet(snap)
	}
	return func(d *search.DocumentMatch) error {
		if d == nil {
			// The ids first: a shard whose hits fail adds no counts.
			for _, d := range h.kept {
				h.id(d)
			}
			if h.err != nil {
				return h.err
			}
			var counts map[string]map[string]int
			if m != nil {
				var err error
				if counts, err = m.count(t.facets); err != nil {
					return err
				}
			}
			t.add(h, counts, snap)
			return nil
		}
		if m != nil {
			if err := m.add(d.IndexInternalID); err != nil {
				return err
			}
		}
		if out := h.offer(d); out != nil {
			sctx.DocumentMatchPool.Put(out)
		}
		return h.err
	}, false, nil
}

// add merges the matches and facet counts of one shard, whose snapshot
// is held when the hits' fields are to be read from it.
func (t *topHits) add(h *shardTop, counts map[string]map[string]int, snap *scorch.IndexSnapshot) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.hits = append(t.hits, h.kept...)
	if len(t.fields) > 0 && len(h.kept) > 0 {
		snap.AddRef()
		t.held = append(t.held, snap)
		if t.snap == nil {
			t.snap = map[*search.DocumentMatch]*scorch.IndexSnapshot{}
		}
		for _, d := range h.kept {
			t.snap[d] = snap
		}
	}
	if counts == nil {
		return
	}
	if t.counts == nil {
		t.counts = map[string]map[string]int{}
	}
	for name, terms := range counts {
		if t.counts[name] == nil {
			t.counts[name] = map[string]int{}
		}
		for term, n := range terms {
			t.counts[name][term] += n
		}
	}
}

// release lets go of the snapshots held.
func (t *topHits) release() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range t.held {
		_ = s.DecRef()
	}
	t.held, t.snap = nil, nil
}

// loadFields sets the stored text fields asked for of hits, each read
// from the snapshot that found it.
func (t *topHits) loadFields(hits search.DocumentMatchCollection) error {
	if len(t.fields) == 0 {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, h := range hits {
		snap := t.snap[h]
		if snap == nil {
			return fmt.Errorf("reading hit %s: no snapshot holds it", h.ID)
		}
		doc, err := snap.Document(h.ID)
		if err != nil {
			return fmt.Errorf("reading hit %s: %w", h.ID, err)
		}
		if doc == nil {
			return fmt.Errorf("reading hit %s: not in the snapshot that found it", h.ID)
		}
		h.Fields = make(map[string]any, len(t.fields))
		doc.VisitFields(func(f index.Field) {
			if tf, ok := f.(index.TextField); ok && slices.Contains(t.fields, f.Name()) {
				h.Fields[f.Name()] = tf.Text()
			}
		})
	}
	return nil
}

// facetResults are the facets counted, as bleve reports term facets.
func (t *topHits) facetResults() search.FacetResults {
	// Every term and its count, in no order: Find sorts and cuts them.
	t.mu.Lock()
	defer t.mu.Unlock()
	out := search.FacetResults{}
	for name, fr := range t.facets {
		r := &search.FacetResult{Field: fr.Field, Terms: &search.TermFacets{}}
		for term, n := range t.counts[name] {
			if n > 0 {
				r.Terms.Add(&search.TermFacet{Term: term, Count: n})
				r.Total += n
			}
		}
		out[name] = r
	}
	return out
}

// result is the best n of every shard's matches, in order.
func (t *topHits) result() search.DocumentMatchCollection {
	t.mu.Lock()
	defer t.mu.Unlock()
	slices.SortFunc(t.hits, func(a, b *search.DocumentMatch) int {
		return compareHits(a, b, func(d *search.DocumentMatch) string { return d.ID })
	})
	return t.hits[:min(len(t.hits), t.n)]
}

// compareHits orders a before b when it scores higher, or as high with a
// smaller id, each id as id gives it.
func compareHits(a, b *search.DocumentMatch, id func(*search.DocumentMatch) string) int {
	if c := cmp.Compare(b.Score, a.Score); c != 0 {
		return c
	}
	return strings.Compare(id(a), id(b))
}

// shardTop is the heap of one shard's best n matches, the worst at the
// root.
type shardTop struct {
	n    int
	r    index.IndexReader
	kept []*search.DocumentMatch
	err  error
}

// id reads d's id when it has not been read.
func (h *shardTop) id(d *search.DocumentMatch) string {
	if d.ID == "" && h.err == nil {
		id, err := h.r.ExternalID(d.IndexInternalID)
		if err != nil {
			h.err = fmt.Errorf("reading the id of a match: %w", err)
		}
		d.ID = id
	}
	return d.ID
}

// worse reports whether a comes after b: a lower score, or the same
// score and a greater id.
func (h *shardTop) worse(a, b *search.DocumentMatch) bool {
	return compareHits(a, b, h.id) > 0
}

// offer keeps d if it is among the best n so far and returns the match
// that leaves (d itself when it is not kept), nil when none does.
func (h *shardTop) offer(d *search.DocumentMatch) *search.DocumentMatch {
	if h.n == 0 {
		return d
	}
	if len(h.kept) < h.n {
		h.kept = append(h.kept, d)
		h.up(len(h.kept) - 1)
		return nil
	}
	root := h.kept[0]
	if d.Score < root.Score || !h.worse(root, d) {
		return d
	}
	h.kept[0] = d
	h.down(0)
	return root
}

func (h *shardTop) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.worse(h.kept[i], h.kept[p]) {
			return
		}
		h.kept[i], h.kept[p] = h.kept[p], h.kept[i]
		i = p
	}
}

func (h *shardTop) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(h.kept) {
			return
		}
		w := l
		if r := l + 1; r < len(h.kept) && h.worse(h.kept[r], h.kept[l]) {
			w = r
		}
		if !h.worse(h.kept[w], h.kept[i]) {
			return
		}
		h.kept[i], h.kept[w] = h.kept[w], h.kept[i]
		i = w
	}
}

// matchSet is the matches of a search in one shard, by segment of its
// snapshot: the facets are counted from it and the postings of each facet
// term, a bitmap intersection a term, where bleve reads every match's
// values of every facet field from its doc values. A term counts once an
// ad, as in bleve's doc values.
type matchSet struct {
	segs []*scorch.SegmentSnapshot
	// ends[i] is the first global document number past segment i.
	ends []uint64
	docs [][]uint32 // local numbers of the matches, by segment, ascending
	seg  int
}

func newMatchSet(snap *scorch.IndexSnapshot) *matchSet {
	segs := snap.Segments()
	m := &matchSet{segs: segs, ends: make([]uint64, len(segs)), docs: make([][]uint32, len(segs))}
	var end uint64
	for i, s := range segs {
		end += s.Segment().Count()
		m.ends[i] = end
	}
	return m
}

// add records a match by its internal id, a global document number.
// Matches come in increasing order.
func (m *matchSet) add(id index.IndexInternalID) error {
	if len(id) != 8 {
		return fmt.Errorf("counting facets: an internal id of %d bytes", len(id))
	}
	n := binary.BigEndian.Uint64(id)
	for m.seg < len(m.ends) && n >= m.ends[m.seg] {
		m.seg++
	}
	if m.seg == len(m.ends) {
		return fmt.Errorf("counting facets: document %d past the shard's %d", n, m.ends[len(m.ends)-1])
	}
	start := uint64(0)
	if m.seg > 0 {
		start = m.ends[m.seg-1]
	}
	if n < start {
		return fmt.Errorf("counting facets: document %d came after one of a later segment (from %d)", n, start)
	}
	m.docs[m.seg] = append(m.docs[m.seg], uint32(n-start))
	return nil
}

// omitCount is the method of zap's dictionaries that lists their terms
// without their counts.
type omitCount interface {
	AutomatonIteratorOmitCount(a segment.Automaton, startKeyInclusive, endKeyExclusive []byte) segment.DictionaryIterator
}

// orInto is the method of zap's postings lists that adds its documents
// to a bitmap.
type orInto interface{ OrInto(*roaring.Bitmap) }

// count counts the matches by each term of each facet's field.
func (m *matchSet) count(facets bleve.FacetsRequest) (map[string]map[string]int, error) {
	out := make(map[string]map[string]int, len(facets))
	for name := range facets {
		out[name] = map[string]int{}
	}
	terms := roaring.New()
	for i, seg := range m.segs {
		if len(m.docs[i]) == 0 {
			continue
		}
		matches := roaring.New()
		matches.AddMany(m.docs[i])
		for name, fr := range facets {
			dict, err := seg.Segment().Dictionary(fr.Field)
			if err != nil {
				return nil, fmt.Errorf("counting facet %s: %w", name, err)
			}
			// The terms alone: zap's iterator that omits each term's
			// count does not decode its postings a first time.
			var it segment.DictionaryIterator
			if oc, ok := dict.(omitCount); ok {
				it = oc.AutomatonIteratorOmitCount(nil, nil, nil)
			} else {
				it = dict.AutomatonIterator(nil, nil, nil)
			}
			for {
				e, err := it.Next()
				if err != nil {
					return nil, fmt.Errorf("counting facet %s: %w", name, err)
				}
				if e == nil {
					break
				}
				pl, err := dict.PostingsList([]byte(e.Term), nil, nil)
				if err != nil {
					return nil, fmt.Errorf("counting facet %s: %w", name, err)
				}
				or, ok := pl.(orInto)
				if !ok {
					return nil, fmt.Errorf("counting facet %s: a postings list of type %T", name, pl)
				}
				terms.Clear()
				or.OrInto(terms)
				if n := matches.AndCardinality(terms); n > 0 {
					out[name][e.Term] += int(n)
				}
			}
		}
	}
	return out, nil
}
