package handle

import (
	"strings"
	"testing"

	"github.com/adwatch/adwatch/internal/corpus"
)

func TestFind(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"IG: Rosa.B", []string{"instagram:rosa.b"}},
		{"insta @rosa_b", []string{"instagram:rosa_b"}},
		{"follow instagram.com/Rosa_B", []string{"instagram:rosa_b"}},
		{"Snap - rosab22", []string{"snapchat:rosab22"}},
		{"sc: rosab", []string{"snapchat:rosab"}},
		{"Telegram @RosaB", []string{"telegram:rosab"}},
		{"t.me/rosab", []string{"telegram:rosab"}},
		{"kik=rosab", []string{"kik:rosab"}},
		{"onlyfans.com/rosab", []string{"onlyfans:rosab"}},
		{"OF: rosab", []string{"onlyfans:rosab"}},
		{"twitter: @rosab", []string{"twitter:rosab"}},
		{"x: rosab", []string{"twitter:rosab"}},
		{"Venmo @Rosa-B", []string{"venmo:@rosa-b"}},
		{"venmo: rosab", []string{"venmo:@rosab"}},
		{"deposit via $RosaB", []string{"cashapp:$rosab"}},
		{"cash app: $rosab", []string{"cashapp:$rosab"}},
		{"cashapp rosab", []string{"cashapp:$rosab"}},
		{"email Rosa.B@Example.com", []string{"email:rosa.b@example.com"}},
		{"rosa at gmail dot com", []string{"email:rosa@gmail.com"}},
		{"visit www.rosa-sweet.com", []string{"domain:rosa-sweet.com"}},
		{"IG rosab and snap rosab", []string{"instagram:rosab", "snapchat:rosab"}},
		// Not handles.
		{"$200/hr, $150 hh", nil},
		{"one of my friends", nil},
		{"snap me for more", nil},
		{"5 x 7 photos", nil},
		{"call me at 10", nil},
		{"", nil},
	} {
		got := Find(tc.in)
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("Find(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// TestCorpus reports precision and recall over testdata/cases.tsv.
func TestCorpus(t *testing.T) {
	r := corpus.Score(t, corpus.Load(t, "testdata/cases.tsv"), Find)
	corpus.Require(t, r, 50, 0.95, 0.9)
}

func FuzzFind(f *testing.F) {
	for _, s := range []string{"IG: rosa", "$rosab", "rosa@example.com", "t.me/x", "\xff@\xfe.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, h := range Find(s) {
			kind, v, ok := strings.Cut(h, ":")
			if !ok || kind == "" || v == "" || strings.ToLower(h) != h {
				t.Fatalf("Find(%q) gave %q, not a normalized handle", s, h)
			}
		}
	})
}

func BenchmarkFind(b *testing.B) {
	s := strings.Repeat("Hi gentlemen, I'm Rosa. IG: rosa.b, deposit $RosaB, email rosa@example.com. $200/hr. ", 10)
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	for b.Loop() {
		Find(s)
	}
}

func TestPersonal(t *testing.T) {
	for _, tc := range []struct {
		h    string
		want bool
	}{
		{"instagram:rosa.b", true}, {"snapchat:rosab", true}, {"telegram:rosab", true}, {"onlyfans:rosab", true},
		{"email:rosa@example.com", false}, {"cashapp:$rosab", false}, {"venmo:@rosab", false},
		{"whatsapp:15108730123", false}, {"domain:rosa.example", false}, {"", false},
	} {
		if got := Personal(tc.h); got != tc.want {
			t.Errorf("Personal(%q) = %v, want %v", tc.h, got, tc.want)
		}
	}
}
