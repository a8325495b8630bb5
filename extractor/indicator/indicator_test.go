package indicator

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/adwatch/adwatch/internal/corpus"
)

func testMatcher(t testing.TB) *Matcher {
	m, err := LoadDir("../../configs/indicators")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMatchSurvivesEvasion(t *testing.T) {
	m := testMatcher(t)
	for _, tc := range []struct {
		in, category, term string
	}{
		{"so YOUNG and sweet", "youth", "young"},
		{"yoouung and fun", "youth", "young"},
		{"y0ung lady", "youth", "young"},
		{"y o u n g", "youth", "young"},
		{"Barely   Legal", "youth", "barely legal"},
		{"hi 🎀 there", "youth", "🎀"},
		{"new 2 the game", "youth", "new 2 the game"},
		{"ask about my friends", "third_party", "ask about my friends"},
		{"New in town!", "movement", "new in town"},
		{"pay by cash app", "risky", "cash app"},
	} {
		got, scores := m.Match(tc.in)
		found := false
		for _, in := range got {
			found = found || (in.Category == tc.category && in.Term == tc.term)
		}
		if !found || scores[tc.category] <= 0 {
			t.Errorf("Match(%q) = %+v, want %s/%s", tc.in, got, tc.category, tc.term)
		}
	}
	if got, _ := m.Match("a friendly conversation about the weather"); len(got) != 0 {
		t.Errorf("innocent text matched %+v", got)
	}
}

func TestYouthListedFirst(t *testing.T) {
	got, _ := testMatcher(t).Match("new in town, petite and young")
	if len(got) < 3 || got[0].Category != "youth" || got[len(got)-1].Category != "movement" {
		t.Errorf("order = %+v, want youth first", got)
	}
}

// TestCorpus reports precision and recall of the categories found over
// testdata/cases.tsv.
func TestCorpus(t *testing.T) {
	m := testMatcher(t)
	r := corpus.Score(t, corpus.Load(t, "testdata/cases.tsv"), func(s string) []string {
		_, scores := m.Match(s)
		return slices.Collect(maps.Keys(scores))
	})
	corpus.Require(t, r, 30, 0.9, 0.9)
}

// TestSpanishCorpus reports precision and recall of the categories found
// in ads in Spanish (testdata/spanish.tsv) with the Spanish lists.
func TestSpanishCorpus(t *testing.T) {
	m := testMatcher(t)
	r := corpus.Score(t, corpus.Load(t, "testdata/spanish.tsv"), func(s string) []string {
		_, scores := m.Match(s)
		return slices.Collect(maps.Keys(scores))
	})
	corpus.Require(t, r, 25, 0.9, 0.9)
}

func FuzzMatch(f *testing.F) {
	m := testMatcher(f)
	for _, s := range []string{"young", "y0ung 🎀", "\xff yoouung", "ask about my friends"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, _ := m.Match(s)
		for _, in := range got {
			if in.Offset < 0 || in.Offset > len(s) || strings.TrimSpace(in.Term) == "" {
				t.Fatalf("Match(%q) gave %+v", s, in)
			}
		}
	})
}

func BenchmarkMatch(b *testing.B) {
	m := testMatcher(b)
	s := strings.Repeat("Hi gentlemen, new in town and so y0uung 🎀, ask about my friends. Incall only, deposit by cash app. ", 5)
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	for b.Loop() {
		m.Match(s)
	}
}
