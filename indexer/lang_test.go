package indexer

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/search/query"

	"github.com/adwatch/adwatch/internal/record"
)

// langAds are generated ads, two in Spanish and three in English.
func langAds() []record.Ad {
	t0 := time.Date(2020, 9, 12, 18, 0, 0, 0, time.UTC)
	ad := func(id, title, body string) record.Ad {
		return record.Ad{ID: id, Site: "s", City: "Fresno", Title: title, Body: body, Poster: "Valeria", PostedAt: t0, PageSHA256: id}
	}
	return []record.Ad{
		ad("s:es1", "Jovencita nueva en la ciudad", "Hola amor, soy Valeria y tengo 19 años. Llámame para más información."),
		ad("s:es2", "Chica latina de paso", "Estoy en la ciudad solo por unos días. Escríbeme por mensaje, ambiente tranquilo."),
		ad("s:en1", "Friendly company in town", "Hi gentlemen, I'm Amber. Friendly and discreet, text only."),
		ad("s:en2", "Sweet and friendly", "Hello there, friendly vibe, friendly smile, no rush."),
		ad("s:en3", "Classy companion", "Upscale incall only, call me for a relaxing time."),
	}
}

// englishQuery is text search as it was before the Spanish field.
func englishQuery(text string) query.Query {
	var qs []query.Query
	for _, f := range []string{"title", "body", "poster"} {
		mq := bleve.NewMatchQuery(text)
		mq.SetField(f)
		qs = append(qs, mq)
	}
	return bleve.NewDisjunctionQuery(qs...)
}

func ids(hits []Hit) []string {
	var out []string
	for _, h := range hits {
		out = append(out, h.ID)
	}
	return out
}

// TestSpanishSearch: ads in Spanish are matched as Spanish (stems, accents
// folded) as well as by the English fields; English ads as before.
func TestSpanishSearch(t *testing.T) {
	idx, err := Open(t.TempDir(), 8, 25, false)
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	if _, err := idx.Put(langAds()); err != nil {
		t.Fatal(err)
	}
	// spanishOnly cases are found by the Spanish field alone: the English
	// fields miss them.
	for _, tc := range []struct {
		name, text  string
		want        []string
		spanishOnly bool
	}{
		{"plural finds singular", "jovencitas", []string{"s:es1"}, false},
		{"without the accent", "llamame", []string{"s:es1"}, true},
		{"accent folded", "dias", []string{"s:es2"}, true},
		{"feminine finds masculine", "tranquila", []string{"s:es2"}, true},
		{"plural and accent", "informaciones", []string{"s:es1"}, true},
		{"verb form", "escribeme", []string{"s:es2"}, true},
		{"English word", "friendly", []string{"s:en2", "s:en1"}, false},
		{"English stem", "relax", []string{"s:en3"}, false},
		{"nothing", "colegiala", nil, false},
	} {
		if tc.spanishOnly {
			hits, err := idx.search(englishQuery(tc.text), 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(hits) > 0 {
				t.Errorf("%s: the English fields alone find %q in %v; the case does not test the Spanish field", tc.name, tc.text, ids(hits))
			}
		}
		got, err := idx.Find(Search{Text: tc.text, Size: 10})
		if err != nil {
			t.Fatal(err)
		}
		if g := ids(got.Hits); !slices.Equal(g, tc.want) {
			t.Errorf("%s: %q found %v, want %v", tc.name, tc.text, g, tc.want)
		}
		hits, err := idx.SearchText(tc.text, 10)
		if err != nil {
			t.Fatal(err)
		}
		if g := ids(hits); !slices.Equal(g, tc.want) {
			t.Errorf("%s: SearchText(%q) found %v, want %v", tc.name, tc.text, g, tc.want)
		}
	}

	got, err := idx.Find(Search{Lang: LangSpanish, Size: 10})
	if err != nil {
		t.Fatal(err)
	}
	if g := ids(got.Hits); !slices.Equal(g, []string{"s:es1", "s:es2"}) {
		t.Errorf("ads in Spanish: %v, want s:es1 and s:es2", g)
	}
}

// TestEnglishSearchUnchanged: on English ads, the Spanish field changes
// neither which ads match nor their order.
func TestEnglishSearchUnchanged(t *testing.T) {
	idx, err := Open(t.TempDir(), 8, 25, false)
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	var english []record.Ad
	for _, a := range append(langAds(), searchAds()...) {
		if !strings.HasPrefix(a.ID, "s:es") {
			english = append(english, a)
		}
	}
	if _, err := idx.Put(english); err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"friendly", "friendly company", "rosa", "new in town", "sweet smile", "calls"} {
		before, err := idx.search(englishQuery(text), 10)
		if err != nil {
			t.Fatal(err)
		}
		after, err := idx.SearchText(text, 10)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids(before), ids(after)) {
			t.Errorf("%q: English fields alone find %v, with the Spanish field %v", text, ids(before), ids(after))
		}
	}
}

// TestOldIndexOpens: an index made before the Spanish field opens, takes
// new ads and answers in English; its Spanish ads wait for a reindex.
func TestOldIndexOpens(t *testing.T) {
	dir := t.TempDir()
	m := newMapping().(*mapping.IndexMappingImpl)
	delete(m.DefaultMapping.Properties, "text_es")
	delete(m.DefaultMapping.Properties, "lang")
	bi, err := bleve.New(filepath.Join(dir, "index.bleve"), m)
	if err != nil {
		t.Fatal(err)
	}
	if err := bi.Close(); err != nil {
		t.Fatal(err)
	}
	idx, err := Open(dir, 8, 25, false)
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	if _, err := idx.Put(langAds()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		text string
		want []string
	}{{"friendly", []string{"s:en2", "s:en1"}}, {"Llámame", []string{"s:es1"}}, {"llamame", nil}} {
		got, err := idx.Find(Search{Text: tc.text, Size: 10})
		if err != nil {
			t.Fatal(err)
		}
		if g := ids(got.Hits); !slices.Equal(g, tc.want) {
			t.Errorf("old index: %q found %v, want %v", tc.text, g, tc.want)
		}
	}
}
