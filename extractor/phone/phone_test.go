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

// regionCases loads a corpus whose inputs open with the ad's country in
// brackets ("[GB] call 07700 900461") and returns the cases and a finder
// that reads each input in its country.
func regionCases(t testing.TB, path string) ([]corpus.Case, func(string) []string) {
	cases := corpus.Load(t, path)
	e := New("US")
	return cases, func(s string) []string {
		region, text := splitRegion(s)
		return e.NumbersIn(text, region)
	}
}

// splitRegion splits "[GB] text" into "GB" and "text".
func splitRegion(s string) (string, string) {
	if len(s) > 5 && s[0] == '[' && s[3] == ']' && s[4] == ' ' {
		return s[1:3], s[5:]
	}
	return "", s
}

// TestNationalCorpus measures national formats abroad
// (testdata/national.tsv): numbers written the local way in at least eight
// countries, read in the ad's country, and local prices, postcodes and
// measures that are not numbers.
func TestNationalCorpus(t *testing.T) {
	cases, find := regionCases(t, "testdata/national.tsv")
	r := corpus.Score(t, cases, find)
	corpus.Require(t, r, 100, 0.97, 0.95)
	countries := map[string]bool{}
	for _, c := range cases {
		if region, _ := splitRegion(c.In); region != "" {
			countries[region] = true
		}
	}
	if len(countries) < 8 {
		t.Errorf("national corpus covers %d countries, want at least 8", len(countries))
	}
}

// TestSpanishCorpus measures ads in Spanish (testdata/spanish.tsv):
// numbers in Spanish words and digits.
func TestSpanishCorpus(t *testing.T) {
	cases, find := regionCases(t, "testdata/spanish.tsv")
	r := corpus.Score(t, cases, find)
	corpus.Require(t, r, 30, 0.97, 0.9)
}

// TestURLCorpus measures phones in URLs (testdata/urls.tsv): the ad
// page's address and the links in it.
func TestURLCorpus(t *testing.T) {
	cases := corpus.Load(t, "testdata/urls.tsv")
	e := New("US")
	r := corpus.Score(t, cases, func(s string) []string {
		region, u := splitRegion(s)
		return numbers(e.FindURL(u, region))
	})
	corpus.Require(t, r, 40, 0.97, 0.9)
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

// FuzzNational reads untrusted text as an ad of several countries, with a
// "+CC" hint: every number is E.164 and its span lies in the text.
func FuzzNational(f *testing.F) {
	cases, _ := regionCases(f, "testdata/national.tsv")
	for _, c := range cases {
		_, text := splitRegion(c.In)
		f.Add(text)
	}
	e := New("US")
	f.Fuzz(func(t *testing.T, s string) {
		for _, region := range []string{"GB", "IN", "ES", "MX", "AR"} {
			for _, m := range e.FindIn(s, region, "AU") {
				if !strings.HasPrefix(m.E164, "+") || len(m.E164) < 8 || len(m.E164) > 16 {
					t.Fatalf("FindIn(%q, %s) returned %q, not E.164", s, region, m.E164)
				}
				if m.Start < 0 || m.End > len(s) || m.Start >= m.End {
					t.Fatalf("FindIn(%q, %s) returned span %d..%d", s, region, m.Start, m.End)
				}
			}
		}
	})
}

// FuzzURL reads untrusted URLs and links: every number is E.164.
func FuzzURL(f *testing.F) {
	for _, c := range corpus.Load(f, "testdata/urls.tsv") {
		_, u := splitRegion(c.In)
		f.Add(u)
	}
	e := New("US")
	f.Fuzz(func(t *testing.T, s string) {
		for _, region := range []string{"US", "GB"} {
			for _, m := range e.FindURL(s, region) {
				if !strings.HasPrefix(m.E164, "+") || len(m.E164) < 8 || len(m.E164) > 16 {
					t.Fatalf("FindURL(%q, %s) returned %q, not E.164", s, region, m.E164)
				}
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

func TestSpanish(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"Hola amor, soy nueva en la ciudad", true},
		{"Llámame: cuatro uno cinco", true},
		{"Hi gentlemen, I'm new in town", false},
		{"Latina", false},
		{"", false},
	} {
		if got := Spanish(tc.in); got != tc.want {
			t.Errorf("Spanish(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
