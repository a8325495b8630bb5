package alerts

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/adwatch/adwatch/extractor/handle"
	"github.com/adwatch/adwatch/extractor/indicator"
	"github.com/adwatch/adwatch/internal/record"
)

// state is what the alert stage knows, rebuilt from the profile updates:
// every ad's latest update, and the ads of each profile, contact and city
// day. Facts are computed from it for the entities a new update touches.
type state struct {
	windowDays int
	location   func(city string) *time.Location

	ads       map[string]*record.ProfileUpdate
	byProfile map[string]map[string]bool
	byContact map[string]map[string]bool
	cityDay   map[string]map[string]int // city -> local date -> ads
	watch     []WatchEntry
	// phashThreshold is the perceptual hash distance of the same photo.
	phashThreshold int
}

func newState(windowDays int, location func(string) *time.Location) *state {
	return &state{windowDays: windowDays, location: location, phashThreshold: 8,
		ads: map[string]*record.ProfileUpdate{}, byProfile: map[string]map[string]bool{},
		byContact: map[string]map[string]bool{}, cityDay: map[string]map[string]int{}}
}

// entity keys
func profileKey(p string) string       { return EntityProfile + ":" + p }
func contactKey(c string) string       { return EntityPhone + ":" + c }
func adKey(a string) string            { return EntityAd + ":" + a }
func cityKey(city, date string) string { return EntityCity + ":" + city + "@" + date }

// contacts are the phones and contact handles of u (see handle.Personal).
func contacts(u *record.ProfileUpdate) []string {
	out := append([]string(nil), u.Phones...)
	for _, h := range u.Handles {
		if !handle.Personal(h) {
			out = append(out, h)
		}
	}
	return out
}

func (s *state) localDate(city string, t time.Time) string {
	return t.In(s.location(city)).Format("2006-01-02")
}

// apply records u and adds to touched the entities whose facts changed.
func (s *state) apply(u record.ProfileUpdate, touched map[string]bool) {
	old, had := s.ads[u.Ad]
	if had {
		delete(s.byProfile[old.Profile], u.Ad)
		touched[profileKey(old.Profile)] = true
	} else {
		date := s.localDate(u.City, u.PostedAt)
		s.bump(s.cityDay, u.City, date)
		touched[cityKey(u.City, date)] = true
		// The days whose baseline counts this one change too.
		if day, err := time.Parse("2006-01-02", date); err == nil {
			for _, d := range []int{1, 2, 3, 4, 5, 6, 7, 14, 21, 28} {
				later := day.AddDate(0, 0, d).Format("2006-01-02")
				if _, ok := s.cityDay[u.City][later]; ok {
					touched[cityKey(u.City, later)] = true
				}
			}
		}
	}
	s.ads[u.Ad] = &u
	add(s.byProfile, u.Profile, u.Ad)
	touched[profileKey(u.Profile)] = true
	touched[adKey(u.Ad)] = true
	for _, c := range contacts(&u) {
		add(s.byContact, c, u.Ad)
		touched[contactKey(c)] = true
	}
}

func (s *state) bump(m map[string]map[string]int, a, b string) {
	if m[a] == nil {
		m[a] = map[string]int{}
	}
	m[a][b]++
}

func add(m map[string]map[string]bool, k, v string) {
	if m[k] == nil {
		m[k] = map[string]bool{}
	}
	m[k][v] = true
}

// adsOf returns the updates of a set of ads in time order.
func (s *state) adsOf(set map[string]bool) []*record.ProfileUpdate {
	out := make([]*record.ProfileUpdate, 0, len(set))
	for id := range set {
		if u, ok := s.ads[id]; ok {
			out = append(out, u)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].PostedAt.Equal(out[j].PostedAt) {
			return out[i].PostedAt.Before(out[j].PostedAt)
		}
		return out[i].Ad < out[j].Ad
	})
	return out
}

func (s *state) window() time.Duration { return time.Duration(s.windowDays) * 24 * time.Hour }

// maxDistinctInWindow is the most distinct keys among ads within any
// window ending at an ad.
func (s *state) maxDistinctInWindow(ads []*record.ProfileUpdate, key func(*record.ProfileUpdate) string) int {
	best, lo := 0, 0
	counts := map[string]int{}
	for hi, a := range ads {
		counts[key(a)]++
		for a.PostedAt.Sub(ads[lo].PostedAt) > s.window() {
			k := key(ads[lo])
			if counts[k]--; counts[k] == 0 {
				delete(counts, k)
			}
			lo++
		}
		best = max(best, len(counts))
		_ = hi
	}
	return best
}

// lastDay counts the ads in the 24 hours before the latest one, and the
// average per day of those before.
func lastDay(ads []*record.ProfileUpdate) (int, float64) {
	if len(ads) == 0 {
		return 0, 0
	}
	last := ads[len(ads)-1].PostedAt
	from := last.Add(-24 * time.Hour)
	n, before := 0, 0
	for _, a := range ads {
		if a.PostedAt.After(from) {
			n++
		} else {
			before++
		}
	}
	if before == 0 {
		return n, 0
	}
	days := from.Sub(ads[0].PostedAt).Hours() / 24
	return n, float64(before) / max(days, 1)
}

func (s *state) adFacts(id string) *AdFacts {
	u := s.ads[id]
	f := &AdFacts{ID: id, City: u.City, MinStatedAge: NoAge, Indicators: zeroScores(), Phones: u.Phones}
	for _, a := range u.Ages {
		f.MinStatedAge = min(f.MinStatedAge, a)
	}
	for k, v := range u.Scores {
		f.Indicators[k] = v
	}
	for _, in := range u.Indicators {
		f.Terms = append(f.Terms, in.Term)
	}
	f.WatchHits = s.watchHits(u)
	return f
}

func (s *state) profileFacts(p string) *ProfileFacts {
	ads := s.adsOf(s.byProfile[p])
	f := &ProfileFacts{ID: p, Ads: len(ads), MinStatedAge: NoAge, Indicators: zeroScores()}
	cities := map[string]bool{}
	maxSoFar := 0
	for _, a := range ads {
		cities[a.City] = true
		adMin := NoAge
		for _, age := range a.Ages {
			f.MinStatedAge = min(f.MinStatedAge, age)
			f.MaxStatedAge = max(f.MaxStatedAge, age)
			adMin = min(adMin, age)
		}
		if adMin != NoAge {
			if maxSoFar > 0 && adMin < maxSoFar {
				f.AgesFalling = true
			}
			maxSoFar = max(maxSoFar, adMin)
		}
		for k, v := range a.Scores {
			f.Indicators[k] = max(f.Indicators[k], v)
		}
	}
	f.Cities = sortedSet(cities)
	f.CitiesInWindow = s.maxDistinctInWindow(ads, func(u *record.ProfileUpdate) string { return u.City })
	f.AdsLastDay, f.DailyBaseline = lastDay(ads)
	return f
}

func (s *state) phoneFacts(c string) *PhoneFacts {
	ads := s.adsOf(s.byContact[c])
	f := &PhoneFacts{Number: c, Ads: len(ads)}
	profiles := map[string]bool{}
	for _, a := range ads {
		profiles[a.Profile] = true
	}
	f.Profiles = len(profiles)
	f.ProfilesInWindow = s.maxDistinctInWindow(ads, func(u *record.ProfileUpdate) string { return u.Profile })
	f.AdsLastDay, f.DailyBaseline = lastDay(ads)
	return f
}

func (s *state) cityFacts(city, date string) *CityFacts {
	f := &CityFacts{Name: city, Date: date, AdsDay: s.cityDay[city][date]}
	day, err := time.Parse("2006-01-02", date)
	if err != nil {
		return f
	}
	sum := 0
	for w := 1; w <= 4; w++ {
		if n, ok := s.cityDay[city][day.AddDate(0, 0, -7*w).Format("2006-01-02")]; ok {
			sum += n
			f.Days++
		}
	}
	if f.Days == 0 {
		for d := 1; d <= 7; d++ {
			if n, ok := s.cityDay[city][day.AddDate(0, 0, -d).Format("2006-01-02")]; ok {
				sum += n
				f.Days++
			}
		}
	}
	if f.Days > 0 {
		f.Baseline = float64(sum) / float64(f.Days)
	}
	return f
}

// zeroScores has every indicator category at 0, so that rules may name
// any of them.
func zeroScores() map[string]float64 {
	m := map[string]float64{}
	for _, c := range indicator.Categories {
		m[c] = 0
	}
	return m
}

// sortedSet returns the keys of m in order, an empty slice (not nil) when
// there are none: alerts store them, and compare what they stored.
func sortedSet(m map[string]bool) []string {
	out := slices.AppendSeq(make([]string, 0, len(m)), maps.Keys(m))
	slices.Sort(out)
	return out
}

// evidence gathers what an alert on the entity shows: its ads (latest
// first, at most 50), profiles, matched terms with positions, contacts,
// images and cities.
func (s *state) evidence(a *record.Alert, ads []*record.ProfileUpdate) {
	profiles, phones, images, cities := map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
	a.Ads, a.Terms = nil, nil
	for i := len(ads) - 1; i >= 0; i-- {
		u := ads[i]
		if len(a.Ads) < 50 {
			a.Ads = append(a.Ads, u.Ad)
		}
		profiles[u.Profile] = true
		cities[u.City] = true
		for _, p := range u.Phones {
			phones[p] = true
		}
		for _, im := range u.Images {
			images[im] = true
		}
		for _, in := range u.Indicators {
			if len(a.Terms) < 50 {
				a.Terms = append(a.Terms, record.TermHit{Ad: u.Ad, Category: in.Category, Term: in.Term, Offset: in.Offset})
			}
		}
	}
	a.Profiles, a.Phones, a.Images, a.Cities = sortedSet(profiles), sortedSet(phones), sortedSet(images), sortedSet(cities)
	a.AdCount = len(ads)
}

// entityAds returns the ads behind an entity key.
func (s *state) entityAds(key string) []*record.ProfileUpdate {
	kind, id, _ := strings.Cut(key, ":")
	switch kind {
	case EntityAd:
		if u, ok := s.ads[id]; ok {
			return []*record.ProfileUpdate{u}
		}
	case EntityProfile:
		return s.adsOf(s.byProfile[id])
	case EntityPhone:
		return s.adsOf(s.byContact[id])
	}
	return nil
}

// env builds the rule environment of an entity key; ok is false for an
// entity with nothing left (a profile merged away).
func (s *state) env(key string) (Env, string, bool) {
	kind, id, _ := strings.Cut(key, ":")
	switch kind {
	case EntityAd:
		if _, ok := s.ads[id]; ok {
			return Env{Ad: s.adFacts(id)}, kind, true
		}
	case EntityProfile:
		if len(s.byProfile[id]) > 0 {
			return Env{Profile: s.profileFacts(id)}, kind, true
		}
		return Env{}, kind, false
	case EntityPhone:
		if len(s.byContact[id]) > 0 {
			return Env{Phone: s.phoneFacts(id)}, kind, true
		}
	case EntityCity:
		city, date, _ := strings.Cut(id, "@")
		return Env{City: s.cityFacts(city, date)}, kind, true
	}
	return Env{}, kind, false
}

// summary is the one line of evidence of an alert.
func summary(r *Rule, env Env) string {
	switch {
	case env.Profile != nil:
		p := env.Profile
		parts := []string{fmt.Sprintf("%d ads", p.Ads)}
		if p.MinStatedAge != NoAge {
			parts = append(parts, fmt.Sprintf("stated ages %d to %d", p.MinStatedAge, p.MaxStatedAge))
		}
		if p.AgesFalling {
			parts = append(parts, "stated age falls over time")
		}
		if y := p.Indicators["youth"]; y > 0 {
			parts = append(parts, fmt.Sprintf("youth language %.1f", y))
		}
		if len(p.Cities) > 1 {
			parts = append(parts, fmt.Sprintf("%d cities (%s), %d within %s", len(p.Cities), strings.Join(p.Cities, ", "), p.CitiesInWindow, "the window"))
		}
		if p.AdsLastDay > 1 && p.DailyBaseline > 0 {
			parts = append(parts, fmt.Sprintf("%d ads in the last day against %.1f a day before", p.AdsLastDay, p.DailyBaseline))
		}
		return strings.Join(parts, "; ")
	case env.Phone != nil:
		p := env.Phone
		return fmt.Sprintf("in the ads of %d profiles (%d within the window), %d ads", p.Profiles, p.ProfilesInWindow, p.Ads)
	case env.Ad != nil:
		a := env.Ad
		parts := []string{}
		if len(a.WatchHits) > 0 {
			parts = append(parts, "watchlist: "+strings.Join(a.WatchHits, ", "))
		}
		if len(a.Terms) > 0 {
			parts = append(parts, "terms: "+strings.Join(a.Terms, ", "))
		}
		if a.MinStatedAge != NoAge {
			parts = append(parts, fmt.Sprintf("stated age %d", a.MinStatedAge))
		}
		return strings.Join(parts, "; ")
	case env.City != nil:
		c := env.City
		return fmt.Sprintf("%d ads on %s against a baseline of %.1f (%d days)", c.AdsDay, c.Date, c.Baseline, c.Days)
	}
	return r.Description
}
