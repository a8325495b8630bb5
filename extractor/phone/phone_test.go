package phone

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/adwatch/adwatch/internal/corpus"
	"github.com/adwatch/adwatch/internal/sim"
)

func loadCases(t testing.TB) []corpus.Case { return corpus.Load(t, "testdata/cases.tsv") }

// TestFindCorpus measures precision and recall over the team's corpus
// (testdata/cases.tsv: plain, obfuscated and international numbers, and
// prices, measurements, dates and ids that are not numbers) and fails under
// the targets. Every miss and false find is listed.
func TestFindCorpus(t *testing.T) {
	e := New("US")
	r := corpus.Score(t, loadCases(t), e.Numbers)
	corpus.Require(t, r, 300, 0.99, 0.97)
}

func TestObfuscatedFlag(t *testing.T) {
	e := New("US")
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"(510) 873-0123", false},
		{"510-873-0123", false},
		{"five1zero-8seven3-0one2three", true},
		{"5 1 0 • 8 7 3 • 0 1 2 3", true},
		{"51O.873.Ol23", true},
	} {
		ms := e.Find(tc.in)
		if len(ms) != 1 || ms[0].Obfuscated != tc.want {
			t.Errorf("Find(%q) = %+v, want one number with obfuscated=%v", tc.in, ms, tc.want)
		}
	}
}

func FuzzFind(f *testing.F) {
	for _, c := range loadCases(f) {
		f.Add(c.In)
	}
	e := New("US")
	f.Fuzz(func(t *testing.T, s string) {
		for _, m := range e.Find(s) {
			if !strings.HasPrefix(m.E164, "+") || len(m.E164) < 8 || len(m.E164) > 16 {
				t.Fatalf("Find(%q) returned %q, not E.164", s, m.E164)
			}
			if m.Start < 0 || m.End > len(s) || m.Start >= m.End {
				t.Fatalf("Find(%q) returned span %d..%d", s, m.Start, m.End)
			}
			if utf8.ValidString(s) && !utf8.ValidString(s[m.Start:m.End]) {
				t.Fatalf("Find(%q) span %d..%d cuts a rune", s, m.Start, m.End)
			}
		}
	})
}

// BenchmarkFind measures throughput on the simulator's ad texts (titles,
// bodies and phone fields, with their obfuscations and distractors) and on
// the test corpus. Each iteration uses a fresh Extractor, so the
// validation cache starts cold, except in "ads-warm", where numbers seen
// before are validated from the cache as in a long-running extractor.
func BenchmarkFind(b *testing.B) {
	w, err := sim.Generate(1, "small")
	if err != nil {
		b.Fatal(err)
	}
	var ads []string
	for _, a := range w.Ads {
		ads = append(ads, a.Title+"\n"+a.Body+"\n"+a.PhoneField)
	}
	var corpus []string
	for _, c := range loadCases(b) {
		corpus = append(corpus, c.In)
	}
	for _, bc := range []struct {
		name  string
		texts []string
		warm  bool
	}{{"ads", ads, false}, {"ads-warm", ads, true}, {"corpus", corpus, false}} {
		b.Run(bc.name, func(b *testing.B) {
			size := 0
			for _, t := range bc.texts {
				size += len(t)
			}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			e := New("US")
			for b.Loop() {
				if !bc.warm {
					e = New("US")
				}
				for _, t := range bc.texts {
					e.Find(t)
				}
			}
			b.ReportMetric(float64(len(bc.texts))*float64(b.N)/b.Elapsed().Seconds(), "texts/s")
		})
	}
}
