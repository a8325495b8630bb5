package phone

import (
	"bufio"
	"os"
	"strings"
	"testing"
	"unicode/utf8"
)

type tcase struct {
	in   string
	want []string
}

func loadCases(t testing.TB) []tcase {
	f, err := os.Open("testdata/cases.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []tcase
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		in, want, _ := strings.Cut(line, "\t")
		c := tcase{in: in}
		if want != "" {
			c.want = strings.Split(want, ",")
		}
		out = append(out, c)
	}
	return out
}

func TestFindCorpus(t *testing.T) {
	e := New("US")
	for _, c := range loadCases(t) {
		got := e.Numbers(c.in)
		if strings.Join(got, ",") != strings.Join(c.want, ",") {
			t.Errorf("Numbers(%q) = %v, want %v", c.in, got, c.want)
		}
	}
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
		f.Add(c.in)
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

func BenchmarkFind(b *testing.B) {
	cases := loadCases(b)
	var text strings.Builder
	for _, c := range cases {
		text.WriteString("Hello gentlemen, sweet and discreet. ")
		text.WriteString(c.in)
		text.WriteString("\n")
	}
	s := text.String()
	e := New("US")
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	for b.Loop() {
		e.Find(s)
	}
}
