package indexer

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"
	index "github.com/blevesearch/bleve_index_api"

	"github.com/adwatch/adwatch/internal/record"
)

// Age bands of the stated ages, youngest first: the age facet's values.
var AgeBands = []string{"under 18", "18-20", "21-25", "26+"}

// AgeBand names the band of a stated age.
func AgeBand(age int) string {
	switch {
	case age < 18:
		return AgeBands[0]
	case age <= 20:
		return AgeBands[1]
	case age <= 25:
		return AgeBands[2]
	}
	return AgeBands[3]
}

func reverse(s string) string {
	b := []byte(s)
	slices.Reverse(b)
	return string(b)
}

// Search is what Find looks for: at most one of phones, handles, a part
// of a phone number or words, narrowed by the filters; no criterion at
// all matches every ad.
type Search struct {
	// Phones are E.164 numbers; Handles normalized handles.
	Phones  []string
	Handles []string
	// PhonePart is 4 to 7 digits that begin or end a national number
	// ("8730123" finds +15108730123).
	PhonePart string
	// Text is words in the title, body or poster name; in ads in Spanish
	// they are also matched as Spanish words ("jovencitas" finds
	// "jovencita").
	Text string

	// City and Site are exact (City in any case); Category an indicator
	// category ("youth").
	City, Site, Category string
	// Lang is the language of the ad: LangSpanish, or "" for any.
	Lang string
	// From and Until bound the time posted: [From, Until). Zero is open.
	From, Until time.Time
	// MinAge and MaxAge bound a stated age, inclusive; 0 is open.
	MinAge, MaxAge int

	// Offset and Size select the page of hits (Size 0: none).
	Offset, Size int
	// Facets asks for the counts of the matching ads by city, site,
	// indicator category, age band and month.
	Facets bool
}

// LangSpanish is the language of an ad in Spanish (Search.Lang).
const LangSpanish = "es"

// textFields are the fields words are looked for in: title, body and
// poster analyzed as English, and text_es, the title and body of ads in
// Spanish analyzed as Spanish.
var textFields = []string{"title", "body", "poster", "text_es"}

// textQuery matches text in any of textFields, each analyzed as its field
// is. An English ad has no text_es: its matches and their order are as
// with the English fields alone.
func textQuery(text string) query.Query {
	qs := make([]query.Query, 0, len(textFields))
	for _, f := range textFields {
		mq := bleve.NewMatchQuery(text)
		mq.SetField(f)
		qs = append(qs, mq)
	}
	return bleve.NewDisjunctionQuery(qs...)
}

// MinPhonePart is the fewest digits a partial phone number needs.
const MinPhonePart = 4

// query builds the bleve query of s.
func (s Search) query() query.Query {
	var must []query.Query
	or := func(qs []query.Query) {
		if len(qs) > 0 {
			must = append(must, bleve.NewDisjunctionQuery(qs...))
		}
	}
	term := func(field, v string) *query.TermQuery {
		tq := bleve.NewTermQuery(v)
		tq.SetField(field)
		return tq
	}
	var qs []query.Query
	for _, p := range s.Phones {
		qs = append(qs, term("phones", p))
	}
	or(qs)
	qs = nil
	for _, h := range s.Handles {
		qs = append(qs, term("handles", h))
	}
	or(qs)
	if s.PhonePart != "" {
		head := bleve.NewPrefixQuery(s.PhonePart)
		head.SetField("phone_digits")
		tail := bleve.NewPrefixQuery(reverse(s.PhonePart))
		tail.SetField("phone_rev")
		or([]query.Query{head, tail})
	}
	if strings.TrimSpace(s.Text) != "" {
		must = append(must, textQuery(s.Text))
	}
	if s.City != "" {
		must = append(must, term("city", strings.ToLower(s.City)))
	}
	if s.Site != "" {
		must = append(must, term("site", s.Site))
	}
	if s.Category != "" {
		must = append(must, term("categories", s.Category))
	}
	if s.Lang != "" {
		must = append(must, term("lang", s.Lang))
	}
	if !s.From.IsZero() || !s.Until.IsZero() {
		incl, excl := true, false
		dq := bleve.NewDateRangeInclusiveQuery(s.From, s.Until, &incl, &excl)
		dq.SetField("posted_at")
		must = append(must, dq)
	}
	if s.MinAge > 0 || s.MaxAge > 0 {
		var lo, hi *float64
		if s.MinAge > 0 {
			v := float64(s.MinAge)
			lo = &v
		}
		if s.MaxAge > 0 {
			v := float64(s.MaxAge)
			hi = &v
		}
		yes := true
		nq := bleve.NewNumericRangeInclusiveQuery(lo, hi, &yes, &yes)
		nq.SetField("ages")
		must = append(must, nq)
	}
	switch len(must) {
	case 0:
		return bleve.NewMatchAllQuery()
	case 1:
		return must[0]
	}
	return bleve.NewConjunctionQuery(must...)
}

// mayMatch reports whether a shard may hold an ad s matches, by the
// dictionary of its phones, handles or phone digits: a look-up of one
// person's number reads only the shards that have it.
func (s Search) mayMatch(r index.IndexReader) (bool, error) {
	has := func(field, term string, prefix bool) (bool, error) {
		var d index.FieldDict
		var err error
		if prefix {
			d, err = r.FieldDictPrefix(field, []byte(term))
		} else {
			d, err = r.FieldDictRange(field, []byte(term), []byte(term))
		}
		if err != nil {
			return false, fmt.Errorf("reading a shard's %s: %w", field, err)
		}
		defer d.Close()
		e, err := d.Next()
		return e != nil, err
	}
	anyOf := func(field string, terms []string, prefix bool) (bool, error) {
		for _, t := range terms {
			if ok, err := has(field, t, prefix); err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	}
	switch {
	case len(s.Phones) > 0:
		return anyOf("phones", s.Phones, false)
	case len(s.Handles) > 0:
		return anyOf("handles", s.Handles, false)
	case s.PhonePart != "":
		if ok, err := has("phone_digits", s.PhonePart, true); err != nil || ok {
			return ok, err
		}
		return has("phone_rev", reverse(s.PhonePart), true)
	}
	return true, nil
}

// Facet is one value of a facet and how many matching ads have it.
type Facet struct {
	Value string `json:"value"`
	Count int    `json:"count"`
}

// Facets count the matching ads by each value: cities (lowercase), sites
// and indicator categories by count, age bands youngest first, months
// ("2020-10") in order. An ad stating two ages in one band counts once.
type Facets struct {
	City     []Facet `json:"city"`
	Site     []Facet `json:"site"`
	Category []Facet `json:"category"`
	Age      []Facet `json:"age"`
	Month    []Facet `json:"month"`
}

// Found is the answer of Find.
type Found struct {
	// Hits are the page of ads asked for, best first.
	Hits []Hit
	// Total is how many ads match in all.
	Total uint64
	// Facets are set when asked for.
	Facets *Facets
}

// facetFields are the facets Find asks bleve for, with how many values
// each keeps.
var facetFields = []struct {
	name, field string
	size        int
}{{"city", "city", 50}, {"site", "site", 50}, {"category", "categories", 20}, {"age", "age_bands", len(AgeBands)}, {"month", "month", 240}}

// Find returns one page of the ads matching s, best first, how many match
// in all and, when asked, their facets.
func (x *Index) Find(s Search) (Found, error) {
	req := bleve.NewSearchRequestOptions(s.query(), max(s.Size, 0), max(s.Offset, 0), false)
	req.Fields = []string{"source"}
	req.SortBy([]string{"-_score", "_id"})
	if s.Facets {
		// Each shard counts every value; the counts of the shards added
		// up are cut to the facet's size in facetsOf.
		for _, f := range facetFields {
			req.AddFacet(f.name, bleve.NewFacetRequest(f.field, allValues))
		}
	}
	res, err := x.bleve.searchTop(req, s.From, s.Until, s.mayMatch)
	if err != nil {
		return Found{}, fmt.Errorf("searching index: %w", err)
	}
	hits, err := x.hits(res.Hits)
	if err != nil {
		return Found{}, err
	}
	out := Found{Hits: hits, Total: res.Total}
	if s.Facets {
		out.Facets = facetsOf(res.Facets)
	}
	return out, nil
}

// allValues is the size of the facets asked of the shards: every value.
const allValues = 1 << 20

// facetsOf reads the facets of a search, each cut to its size as bleve
// cuts one: the most frequent values, ties in value order.
func facetsOf(fr search.FacetResults) *Facets {
	terms := func(name string) []Facet {
		out := []Facet{}
		if r, ok := fr[name]; ok && r != nil {
			for _, t := range r.Terms.Terms() {
				out = append(out, Facet{Value: t.Term, Count: t.Count})
			}
		}
		sort.Slice(out, func(i, j int) bool {
			if out[i].Count != out[j].Count {
				return out[i].Count > out[j].Count
			}
			return out[i].Value < out[j].Value
		})
		for _, f := range facetFields {
			if f.name == name && len(out) > f.size {
				out = out[:f.size]
			}
		}
		return out
	}
	f := &Facets{City: terms("city"), Site: terms("site"), Category: terms("category"), Month: terms("month")}
	sort.Slice(f.Month, func(i, j int) bool { return f.Month[i].Value < f.Month[j].Value })
	ages := terms("age")
	f.Age = []Facet{}
	for _, b := range AgeBands {
		for _, a := range ages {
			if a.Value == b {
				f.Age = append(f.Age, a)
			}
		}
	}
	return f
}

// hits decodes bleve's hits into Hits.
func (x *Index) hits(dm search.DocumentMatchCollection) ([]Hit, error) {
	hits := make([]Hit, 0, len(dm))
	for _, h := range dm {
		var a record.Ad
		s, _ := h.Fields["source"].(string)
		if err := json.Unmarshal([]byte(s), &a); err != nil {
			return nil, fmt.Errorf("decoding stored ad %s: %w", h.ID, err)
		}
		hits = append(hits, Hit{ID: h.ID, Score: h.Score, Profile: x.Linker.Profile(h.ID), Title: a.Title, City: a.City, PostedAt: a.PostedAt})
	}
	return hits, nil
}

// MaxProfileScan is the most matching ads FindProfiles groups into
// profiles; beyond it the profiles of the best-scoring ads are listed.
const MaxProfileScan = 10000

// ProfilesFound is the answer of FindProfiles.
type ProfilesFound struct {
	// Profiles are the page asked for, the profile of the best ad first.
	Profiles []ProfileSummary
	// Total is how many distinct profiles the matching ads (at most
	// MaxProfileScan of them) belong to; Ads how many ads match in all.
	Total int
	Ads   uint64
}

// FindProfiles groups the ads matching s into profiles and returns the
// page [offset, offset+size) of them (s.Offset and s.Size are ignored).
func (x *Index) FindProfiles(s Search, offset, size int) (ProfilesFound, error) {
	req := bleve.NewSearchRequestOptions(s.query(), MaxProfileScan, 0, false)
	req.SortBy([]string{"-_score", "_id"})
	res, err := x.bleve.searchTop(req, s.From, s.Until, s.mayMatch)
	if err != nil {
		return ProfilesFound{}, fmt.Errorf("searching index: %w", err)
	}
	seen := map[string]bool{}
	var ids []string
	for _, h := range res.Hits {
		if p := x.Linker.Profile(h.ID); p != "" && !seen[p] {
			seen[p] = true
			ids = append(ids, p)
		}
	}
	out := ProfilesFound{Profiles: []ProfileSummary{}, Total: len(ids), Ads: res.Total}
	offset = max(offset, 0)
	end := min(offset+max(size, 0), len(ids))
	for i := offset; i < end; i++ {
		sum, ok, err := x.Summary(ids[i])
		if err != nil {
			return ProfilesFound{}, err
		}
		if ok {
			out.Profiles = append(out.Profiles, sum)
		}
	}
	return out, nil
}

// ProfileSummary is one line about a profile in a list: how many ads,
// which phones, cities and stated ages, when it was first and last seen,
// and its first photo for a thumbnail.
type ProfileSummary struct {
	ID     string   `json:"id"`
	Ads    int      `json:"ads"`
	Phones []string `json:"phones"`
	Cities []string `json:"cities"`
	Ages   []int    `json:"ages"`
	// First and LastSeen are the earliest and latest times posted.
	First    time.Time `json:"first"`
	LastSeen time.Time `json:"last_seen"`
	// Photo is the SHA-256 of the first image of the earliest ad that has
	// one (GET /api/images/{sha256}); empty when none.
	Photo string `json:"photo,omitempty"`
}

// Summary returns the summary of profile id (after redirects).
func (x *Index) Summary(id string) (ProfileSummary, bool, error) {
	id = x.Linker.Resolve(id)
	ids := x.Linker.Members(id)
	if len(ids) == 0 {
		return ProfileSummary{}, false, nil
	}
	ads, err := x.GetMany(ids)
	if err != nil {
		return ProfileSummary{}, false, err
	}
	return summarize(id, ads), true, nil
}

// summarize sums up a profile's ads, in time order.
func summarize(id string, ads []record.Ad) ProfileSummary {
	s := ProfileSummary{ID: id, Ads: len(ads)}
	cities, phones, ages := map[string]bool{}, map[string]bool{}, map[int]bool{}
	for _, a := range ads {
		if a.City != "" {
			cities[a.City] = true
		}
		for _, p := range a.Phones {
			phones[p.E164] = true
		}
		for _, n := range a.Ages {
			ages[n] = true
		}
		for _, img := range a.Images {
			if s.Photo == "" && img.SHA256 != "" && img.Error == "" {
				s.Photo = img.SHA256
			}
		}
	}
	if len(ads) > 0 {
		s.First, s.LastSeen = ads[0].PostedAt, ads[len(ads)-1].PostedAt
	}
	s.Cities, s.Phones = sortedKeys(cities), sortedKeys(phones)
	s.Ages = []int{}
	for n := range ages {
		s.Ages = append(s.Ages, n)
	}
	sort.Ints(s.Ages)
	return s
}
