package alerts

import (
	"os"
	"strings"
	"testing"
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
