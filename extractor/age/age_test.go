package age

import (
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/adwatch/adwatch/internal/corpus"
)

func TestFind(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []int
	}{
		{"Age: 19", []int{19}},
		{"age 23", []int{23}},
		{"19yo petite", []int{19}},
		{"21 y/o", []int{21}},
		{"i'm 21 and sweet", []int{21}},
		{"I am 22, new in town", []int{22}},
		{"twenty two years old", []int{22}},
		{"I'm nineteen!", []int{19}},
		{"when I was 16 I moved here", nil},
		{"my daughter is 16 years old", nil},
		{"5'4 120lbs 34-24-36", nil},
		{"$200/hr 60 min", nil},
		{"since 2016", nil},
		{"been doing this for 10 years", nil},
		{"", nil},
		{"Age: 17 and new to this", []int{17}},
		{"I'm 25 years old and I'm 25", []int{25}},
	} {
		got := Find(tc.in)
		if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("Find(%q) = %v, want %v (-want +got):\n%s", tc.in, got, tc.want, diff)
		}
	}
}

// TestCorpus runs the team's corpus (testdata/cases.tsv) and reports
// precision and recall.
func TestCorpus(t *testing.T) {
	r := corpus.Score(t, corpus.Load(t, "testdata/cases.tsv"), func(s string) []string {
		var out []string
		for _, n := range Find(s) {
			out = append(out, strconv.Itoa(n))
		}
		return out
	})
	corpus.Require(t, r, 100, 0.97, 0.95)
}

// TestSitesCorpus runs ages as real sites and Spanish ads write them
// (testdata/sites.tsv): titles with the age between dashes, recruiting
// ranges, disclaimers that are nobody's age, "tengo 19 años".
func TestSitesCorpus(t *testing.T) {
	r := corpus.Score(t, corpus.Load(t, "testdata/sites.tsv"), func(s string) []string {
		var out []string
		for _, n := range Find(s) {
			out = append(out, strconv.Itoa(n))
		}
		return out
	})
	corpus.Require(t, r, 40, 0.97, 0.95)
}

func FuzzFind(f *testing.F) {
	for _, s := range []string{"Age: 19", "i'm 21", "twenty two yo", "when I was 16", "\xff\xfe 19yo"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, n := range Find(s) {
			if n < Youngest || n > Oldest {
				t.Fatalf("Find(%q) returned %d, outside %d..%d", s, n, Youngest, Oldest)
			}
		}
	})
}

func BenchmarkFind(b *testing.B) {
	s := "Hi gentlemen, I'm 21 and new in town. Age: 21. $200/hr, 5'4 120lbs 34-24-36. Text 510-873-0123."
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	for b.Loop() {
		Find(s)
	}
}
