package alerts

import (
	"testing"

	"github.com/adwatch/adwatch/internal/record"
)

// TestDismissedReopensOnNewEvidence: a dismissed alert stays dismissed
// while its evidence only shrinks or reorders, and reopens when a new ad,
// profile, phone, photo or term appears.
func TestDismissedReopensOnNewEvidence(t *testing.T) {
	base := record.Alert{Ads: []string{"a1", "a2"}, Profiles: []string{"P1", "P2"}, Phones: []string{"+15108730123"},
		Terms: []record.TermHit{{Ad: "a1", Category: "youth", Term: "young", Offset: 3}}}
	for _, tc := range []struct {
		name string
		edit func(a *record.Alert)
		want bool
	}{
		{"same", func(*record.Alert) {}, false},
		{"an ad gone", func(a *record.Alert) { a.Ads = []string{"a1"} }, false},
		{"reordered", func(a *record.Alert) { a.Profiles = []string{"P2", "P1"} }, false},
		{"a new ad", func(a *record.Alert) { a.Ads = append(a.Ads, "a3") }, true},
		{"a new profile", func(a *record.Alert) { a.Profiles = append(a.Profiles, "P3") }, true},
		{"a new phone", func(a *record.Alert) { a.Phones = append(a.Phones, "+14085550123") }, true},
		{"a new photo", func(a *record.Alert) { a.Images = []string{"ab"} }, true},
		{"a new term", func(a *record.Alert) { a.Terms = append(a.Terms, record.TermHit{Ad: "a2", Term: "new in town"}) }, true},
	} {
		b := base
		b.Ads, b.Profiles, b.Phones, b.Terms = append([]string(nil), base.Ads...), append([]string(nil), base.Profiles...),
			append([]string(nil), base.Phones...), append([]record.TermHit(nil), base.Terms...)
		tc.edit(&b)
		if got := newEvidence(&base, &b); got != tc.want {
			t.Errorf("%s: new evidence %v, want %v", tc.name, got, tc.want)
		}
	}
}
