package alerts

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/adwatch/adwatch/internal/record"
)

func TestShippedRulesCompile(t *testing.T) {
	data, err := os.ReadFile("../configs/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, rules, bad, err := ParseRules(data)
	if err != nil || len(bad) > 0 {
		t.Fatalf("shipped rules: %v %v", err, bad)
	}
	if len(rules) < 8 || rules[0].Name != "possible_minor" || len(f.Units) == 0 {
		t.Errorf("rules %d, first %q, units %d", len(rules), rules[0].Name, len(f.Units))
	}
}

func TestBadRuleRejectedOthersKept(t *testing.T) {
	yml := `rules:
  - name: good
    severity: high
    entity: profile
    when: profile.ads > 3
  - name: typo
    severity: high
    entity: profile
    when: profile.adz > 3
  - name: wrong_entity
    severity: high
    entity: planet
    when: "true"
  - name: not_bool
    severity: low
    entity: ad
    when: ad.city
  - name: bad_severity
    severity: urgent
    entity: ad
    when: "true"
`
	_, rules, bad, err := ParseRules([]byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 1 || rules[0].Name != "good" {
		t.Errorf("kept %v, want only good", rules)
	}
	want := map[string]int{"typo": 6, "wrong_entity": 10, "not_bool": 14, "bad_severity": 18}
	if len(bad) != len(want) {
		t.Fatalf("rejected %v", bad)
	}
	for _, b := range bad {
		if want[b.Rule] != b.Line || b.Reason == "" {
			t.Errorf("rejected %q at line %d (%s), want line %d", b.Rule, b.Line, b.Reason, want[b.Rule])
		}
		if !strings.Contains(b.Error(), "line") {
			t.Errorf("error %q does not give the line", b.Error())
		}
	}
}

func TestRulesOnFacts(t *testing.T) {
	data, _ := os.ReadFile("../configs/alerts.yaml")
	_, rules, _, _ := ParseRules(data)
	byName := map[string]*Rule{}
	for i := range rules {
		byName[rules[i].Name] = &rules[i]
	}
	prof := func(minAge int, youth float64, falling bool, cities int) Env {
		return Env{Profile: &ProfileFacts{MinStatedAge: minAge, AgesFalling: falling, CitiesInWindow: cities,
			Indicators: map[string]float64{"youth": youth}}}
	}
	for _, tc := range []struct {
		rule string
		env  Env
		want bool
	}{
		{"possible_minor", prof(17, 0, false, 1), true},
		{"possible_minor", prof(19, 3, false, 1), true},
		{"possible_minor", prof(19, 0, true, 1), true},
		{"possible_minor", prof(19, 0, false, 1), false},
		{"possible_minor", prof(NoAge, 5, false, 1), false},
		{"possible_minor", prof(25, 4, true, 1), false},
		{"circuit", prof(25, 0, false, 3), true},
		{"circuit", prof(25, 0, false, 2), false},
		{"shared_phone", Env{Phone: &PhoneFacts{ProfilesInWindow: 3}}, true},
		{"shared_phone", Env{Phone: &PhoneFacts{ProfilesInWindow: 2, Profiles: 9}}, false},
		{"watchlist", Env{Ad: &AdFacts{WatchHits: []string{"phone +15108730123"}}}, true},
		{"watchlist", Env{Ad: &AdFacts{}}, false},
		{"city_surge", Env{City: &CityFacts{AdsDay: 1165, Baseline: 999, Days: 1}}, false},
		{"city_surge", Env{City: &CityFacts{AdsDay: 60, Baseline: 25, Days: 4}}, true},
	} {
		got, err := byName[tc.rule].Eval(tc.env)
		if err != nil || got != tc.want {
			t.Errorf("%s on %+v: %v %v, want %v", tc.rule, tc.env, got, err, tc.want)
		}
	}
}

// TestNetworkMonthsApart: one phone behind five profiles that post 40 days
// apart never has three within the window, so shared_phone stays silent;
// shared_phone_all_time raises it. The same five within a week raise
// shared_phone and not the all-time rule.
func TestNetworkMonthsApart(t *testing.T) {
	data, err := os.ReadFile("../configs/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, rules, bad, err := ParseRules(data)
	if err != nil || len(bad) > 0 {
		t.Fatal(err, bad)
	}
	t0 := time.Date(2020, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		apart time.Duration
		want  map[string]bool
	}{
		{"months apart", 40 * 24 * time.Hour, map[string]bool{"shared_phone": false, "shared_phone_all_time": true}},
		{"within a week", 24 * time.Hour, map[string]bool{"shared_phone": true, "shared_phone_all_time": false}},
	} {
		s := &Stage{Rules: rules, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		s.st = newState(f.WindowDays, func(string) *time.Location { return time.UTC })
		touched := map[string]bool{}
		for i := range 5 {
			s.st.apply(record.ProfileUpdate{Ad: fmt.Sprint("a", i), Profile: fmt.Sprint("P", i), Phones: []string{"+15108730123"},
				City: "Oakland", PostedAt: t0.Add(time.Duration(i) * tc.apart)}, touched)
		}
		got := map[string]bool{}
		for _, d := range s.decide(touched) {
			if d.Alert.Entity == "phone:+15108730123" {
				got[d.Alert.Rule] = d.Fires
			}
		}
		for rule, want := range tc.want {
			if got[rule] != want {
				t.Errorf("%s: %s fires %v, want %v", tc.name, rule, got[rule], want)
			}
		}
	}
}
