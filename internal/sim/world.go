// Package sim is adwatch's simulated classifieds site: generated,
// non-explicit ads in the form real ones take (listing pages with
// pagination, ad pages, posted times, stated ages, generated photos,
// phones written plainly and obfuscated, distractor numbers), persons who
// post many ads over days and cities with the same photos and phones,
// controllers whose phone appears in several persons' ads, and a few
// youth-indicator persons. It is deterministic from a seed and writes a
// ground-truth file of who posted what.
//
// The "alameda" scenario reproduces the Alameda County DA's snapshot:
// Oakland on 2019-10-04 has exactly 999 ads from 666 persons and on
// 2020-10-02 exactly 1,165 ads from 750 persons.
// It also has persons who write in Spanish, in Fresno and in Guayaquil
// (Ecuador) on a third site whose numbers are written the national way
// (spanish.go, ec.go).
package sim

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"
)

// Ad is one generated ad.
type Ad struct {
	ID       int
	Person   int
	City     string
	PostedAt time.Time
	Title    string
	Body     string
	Poster   string
	// PhoneField is the text of the dedicated phone field ("" for none).
	PhoneField string
	// Phones are the numbers the ad carries, in E.164.
	Phones []string
	Age    int
	// Photos are (photo id, JPEG quality) pairs.
	Photos []Photo
	// Handles are the normalized handles the ad shows.
	Handles []string
	// Spanish ads are written in Spanish (spanish.go).
	Spanish bool
}

// Photo is one photo of an ad: which picture and how it was re-encoded.
type Photo struct {
	ID      int
	Quality int
	// Crop is the percent (0 to 5) cut off one side, as reposts do.
	Crop int
}

// Person is one advertised person.
type Person struct {
	ID      int
	Name    string
	Phone   string
	Network int // the controller's network, or -1
	Photos  []int
	// NewPhotos, when set, is a second photo set the person switches to
	// (keeping phone and name).
	NewPhotos []int
	// AltName, when set, is a second name the person also posts under
	// (keeping phone and photos).
	AltName string
	// Stolen, when >= 0, is another person's photo this person's ads
	// show too (a stolen picture).
	Stolen int
	Age    int
	Youth  bool
	// Falling persons state a younger age in later ads (a possible minor
	// who "ages down").
	Falling bool
	// Handle is the person's Instagram handle, or "".
	Handle string
	// Surge persons post steadily for weeks, then many ads in one day.
	Surge bool
	// Spanish persons write their ads in Spanish (spanish.go).
	Spanish bool
}

// World is a generated site.
type World struct {
	Seed     int64
	Scenario string
	Persons  []Person
	// Ads are in time order, ids following it, except that the ads in
	// Spanish (spanish.go) come after all the others, in their own time
	// order.
	Ads []Ad
	// Controllers' phones by network.
	Controllers map[int]string
	loc         *time.Location
}

// Cities of the simulated site, all in the Bay Area's zone.
var Cities = []string{"Oakland", "San Francisco", "San Jose", "Sacramento"}

// Slug is the URL form of a city.
func Slug(city string) string { return strings.ReplaceAll(strings.ToLower(city), " ", "-") }

var names = []string{"Amber", "Bella", "Candy", "Daisy", "Ebony", "Faith", "Gigi", "Honey", "Ivy", "Jade",
	"Kiki", "Lola", "Mia", "Nina", "Olive", "Paris", "Queen", "Rosa", "Sky", "Tina", "Uma", "Vicky",
	"Wendy", "Xena", "Yara", "Zoe", "Asia", "Brandy", "Coco", "Destiny", "Elle", "Fiona", "Grace",
	"Heaven", "Iris", "Jasmine", "Kat", "Luna", "Misty", "Nova", "Peach", "Ruby", "Sasha", "Tiana"}

var areaCodes = []string{"510", "415", "408", "916", "925", "650", "707", "209"}

// Generate builds the world for seed and scenario ("alameda" or "small").
func Generate(seed int64, scenario string) (*World, error) {
	loc, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		return nil, fmt.Errorf("loading time zone: %w", err)
	}
	w := &World{Seed: seed, Scenario: scenario, Controllers: map[int]string{}, loc: loc}
	r := rand.New(rand.NewPCG(uint64(seed), 0xad7a7c4))
	usedPhones := map[string]bool{}
	newPhone := func() string {
		if r.IntN(40) == 0 {
			// A few persons advertise with a foreign mobile number.
			for {
				n := fmt.Sprintf("+447%d%08d", 4+r.IntN(6), r.IntN(100000000))
				num, err := phonenumbers.Parse(n, "ZZ")
				if err == nil && phonenumbers.IsValidNumber(num) && !usedPhones[n] {
					usedPhones[n] = true
					return n
				}
			}
		}
		for {
			ac := areaCodes[r.IntN(len(areaCodes))]
			ex := 200 + r.IntN(800)
			if ex%100 == 11 || ex == 555 || ex == 950 || ex == 958 || ex == 959 || ex == 976 {
				continue
			}
			n := fmt.Sprintf("+1%s%03d%04d", ac, ex, r.IntN(10000))
			num, err := phonenumbers.Parse(n, "US")
			if err != nil || !phonenumbers.IsValidNumber(num) || usedPhones[n] {
				continue
			}
			usedPhones[n] = true
			return n
		}
	}
	photo := 0
	newPerson := func() int {
		p := Person{ID: len(w.Persons), Name: names[r.IntN(len(names))], Phone: newPhone(), Network: -1, Age: 20 + r.IntN(15), Stolen: -1}
		for range 1 + r.IntN(3) {
			p.Photos = append(p.Photos, photo)
			photo++
		}
		switch r.IntN(15) {
		case 0: // changes photos, keeps phone and name
			for range 1 + r.IntN(2) {
				p.NewPhotos = append(p.NewPhotos, photo)
				photo++
			}
		case 1: // changes name, keeps phone and photos
			p.AltName = names[r.IntN(len(names))]
		}
		switch r.IntN(60) {
		case 0:
			p.Youth, p.Age = true, 18+r.IntN(2)
		case 1:
			p.Falling, p.Age = true, 21+r.IntN(2)
		}
		if r.IntN(3) == 0 {
			p.Handle = fmt.Sprintf("%s.%s%d", strings.ToLower(p.Name), string(rune('a'+r.IntN(26))), len(w.Persons))
		}
		w.Persons = append(w.Persons, p)
		return p.ID
	}
	days := func(ds ...string) []time.Time {
		var out []time.Time
		for _, d := range ds {
			t, _ := time.ParseInLocation("2006-01-02", d, loc)
			out = append(out, t)
		}
		return out
	}
	switch scenario {
	case "alameda", "":
		w.Scenario = "alameda"
		w.window(r, newPerson, "Oakland", days("2019-10-04")[0], 666, 999)
		w.window(r, newPerson, "Oakland", days("2020-10-02")[0], 750, 1165)
		w.background(r, newPerson, days("2019-10-03", "2019-10-05", "2020-10-01", "2020-10-03"), 25)
		// September 2020, away from Oakland: steady posting that gives
		// baselines, persons who suddenly post far more, and one city day
		// well above its usual volume.
		sept := days("2020-09-01")[0]
		w.steady(r, newPerson, []string{"San Jose", "Sacramento"}, sept, 28, 22)
		w.surgingPersons(r, newPerson, "San Francisco", sept, 4)
		w.cityDay(r, newPerson, "Sacramento", days("2020-09-24")[0], 36)
	case "small":
		w.window(r, newPerson, "Oakland", days("2020-10-02")[0], 60, 90)
		w.background(r, newPerson, days("2020-10-01", "2020-10-03"), 10)
	default:
		return nil, fmt.Errorf("unknown scenario %q (known: alameda, small)", scenario)
	}
	w.networks(r, newPhone)
	w.steal(r)
	w.write(r)
	sort.Slice(w.Ads, func(i, j int) bool { return w.Ads[i].PostedAt.Before(w.Ads[j].PostedAt) })
	for i := range w.Ads {
		w.Ads[i].ID = 100000 + i
	}
	if w.Scenario == "alameda" {
		// After everyone else and from their own random stream: the
		// world above is the same with or without them.
		w.spanishWorld(seed, photo, usedPhones)
	}
	return w, nil
}

// window places exactly ads ads from exactly persons new persons in city
// during the local day, and gives some of them ads elsewhere and on other
// days, outside the window.
func (w *World) window(r *rand.Rand, newPerson func() int, city string, day time.Time, persons, ads int) {
	ids := make([]int, persons)
	for i := range ids {
		ids[i] = newPerson()
	}
	counts := make([]int, persons)
	for i := range counts {
		counts[i] = 1
	}
	for range ads - persons {
		counts[r.IntN(persons)]++
	}
	next := day.AddDate(0, 0, 1)
	span := next.Sub(day)
	for i, pid := range ids {
		for range counts[i] {
			at := day.Add(time.Duration(r.Int64N(int64(span/time.Second))) * time.Second)
			w.Ads = append(w.Ads, Ad{Person: pid, City: city, PostedAt: at})
		}
		switch r.IntN(6) {
		case 5: // on a circuit: three more cities on the following days
			if r.IntN(6) == 0 {
				for k, c := range r.Perm(len(Cities) - 1)[:3] {
					w.Ads = append(w.Ads, Ad{Person: pid, City: Cities[1+c], PostedAt: next.Add(time.Duration(k*24+r.IntN(20)) * time.Hour)})
				}
			}
		case 0: // travels: the same day in another city
			other := Cities[1+r.IntN(len(Cities)-1)]
			w.Ads = append(w.Ads, Ad{Person: pid, City: other, PostedAt: day.Add(time.Duration(r.IntN(24*60)) * time.Minute)})
		case 1: // posted the evening before, just outside the window
			w.Ads = append(w.Ads, Ad{Person: pid, City: city, PostedAt: day.Add(-time.Duration(1+r.IntN(3600)) * time.Second)})
		case 2: // posted again the next day, exactly at midnight or after
			w.Ads = append(w.Ads, Ad{Person: pid, City: city, PostedAt: next.Add(time.Duration(r.IntN(3)*3600) * time.Second)})
		}
	}
}

// background adds persons posting in every city on the given days.
func (w *World) background(r *rand.Rand, newPerson func() int, days []time.Time, perCityDay int) {
	for _, d := range days {
		for _, c := range Cities {
			n := perCityDay
			for n > 0 {
				pid := newPerson()
				k := min(n, 1+r.IntN(3))
				for range k {
					w.Ads = append(w.Ads, Ad{Person: pid, City: c, PostedAt: d.Add(time.Duration(r.IntN(24*3600)) * time.Second)})
				}
				n -= k
			}
		}
	}
}

// steady adds, in each city, persons who each post one ad every two to
// four days over the given days: about persons/3 ads a city a day.
func (w *World) steady(r *rand.Rand, newPerson func() int, cities []string, from time.Time, days, persons int) {
	for _, c := range cities {
		for range persons {
			pid := newPerson()
			for d := r.IntN(3); d < days; d += 2 + r.IntN(3) {
				w.Ads = append(w.Ads, Ad{Person: pid, City: c, PostedAt: from.AddDate(0, 0, d).Add(time.Duration(8*3600+r.IntN(14*3600)) * time.Second)})
			}
		}
	}
}

// surgingPersons adds n persons who post an ad every other day for three
// weeks and then 10 to 13 ads within a few hours: a profile (and its phone)
// far above its own baseline.
func (w *World) surgingPersons(r *rand.Rand, newPerson func() int, city string, from time.Time, n int) {
	for range n {
		pid := newPerson()
		w.Persons[pid].Surge = true
		for d := 0; d < 22; d += 2 {
			w.Ads = append(w.Ads, Ad{Person: pid, City: city, PostedAt: from.AddDate(0, 0, d).Add(time.Duration(10*3600+r.IntN(8*3600)) * time.Second)})
		}
		day := from.AddDate(0, 0, 25+r.IntN(3)).Add(14 * time.Hour)
		for range 10 + r.IntN(4) {
			w.Ads = append(w.Ads, Ad{Person: pid, City: city, PostedAt: day.Add(time.Duration(r.IntN(6*3600)) * time.Second)})
		}
	}
}

// cityDay adds ads ads from new persons (two or three each) in city on
// one day.
func (w *World) cityDay(r *rand.Rand, newPerson func() int, city string, day time.Time, ads int) {
	for ads > 0 {
		pid := newPerson()
		for range min(ads, 2+r.IntN(2)) {
			w.Ads = append(w.Ads, Ad{Person: pid, City: city, PostedAt: day.Add(time.Duration(r.IntN(24*3600)) * time.Second)})
			ads--
		}
	}
}

// networks puts about one person in seven under a controller whose phone
// appears in the ads of 2 to 5 persons of different names.
func (w *World) networks(r *rand.Rand, newPhone func() string) {
	order := r.Perm(len(w.Persons))
	net := 0
	for i := 0; i+5 < len(order); {
		if r.IntN(7) != 0 {
			i++
			continue
		}
		size := 2 + r.IntN(4)
		phone := newPhone()
		w.Controllers[net] = phone
		names := map[string]bool{}
		for _, pid := range order[i : i+size] {
			p := &w.Persons[pid]
			for names[p.Name] {
				p.Name = nameFor(r)
			}
			names[p.Name] = true
			p.Network = net
			p.AltName = ""    // names stay unique within a network
			p.NewPhotos = nil // its ads join through the name and the controller's phone
		}
		net++
		i += size
	}
}

// steal gives about one person in forty another person's photo, taken
// from someone outside their own network (a stolen picture).
func (w *World) steal(r *rand.Rand) {
	for i := range w.Persons {
		if r.IntN(40) != 0 {
			continue
		}
		for {
			o := r.IntN(len(w.Persons))
			owner := w.Persons[o]
			if o != i && (owner.Network < 0 || owner.Network != w.Persons[i].Network) && owner.Phone != w.Persons[i].Phone {
				w.Persons[i].Stolen = owner.Photos[0]
				break
			}
		}
	}
}

func nameFor(r *rand.Rand) string { return names[r.IntN(len(names))] }

// NetworkID is the ground-truth network of a person.
func (w *World) NetworkID(p Person) string {
	if p.Network < 0 {
		return fmt.Sprintf("solo-%d", p.ID)
	}
	return fmt.Sprintf("net-%d", p.Network)
}

// Truth is one line of the ground-truth file.
type Truth struct {
	URL      string    `json:"url"`
	ID       int       `json:"id"`
	Person   string    `json:"person"`
	Network  string    `json:"network"`
	Phones   []string  `json:"phones"`
	City     string    `json:"city"`
	PostedAt time.Time `json:"posted_at"`
	Age      int       `json:"age"`
	Youth    bool      `json:"youth,omitempty"`
	Falling  bool      `json:"ages_falling,omitempty"`
	Handles  []string  `json:"handles,omitempty"`
	// Site is the site the ad is on; Lang "es" for an ad in Spanish.
	Site string `json:"site"`
	Lang string `json:"lang,omitempty"`
}

// WriteTruth writes the ground truth as JSON lines, with URLs under base.
func (w *World) WriteTruth(out io.Writer, base string) error {
	enc := json.NewEncoder(out)
	for _, a := range w.Ads {
		p := w.Persons[a.Person]
		t := Truth{URL: strings.TrimRight(base, "/") + AdPath(a), ID: a.ID,
			Person: fmt.Sprintf("person-%d", p.ID), Network: w.NetworkID(p), Phones: a.Phones,
			City: a.City, PostedAt: a.PostedAt, Age: a.Age, Youth: p.Youth, Falling: p.Falling, Handles: a.Handles, Site: SiteOf(a.City)}
		if a.Spanish {
			t.Lang = "es"
		}
		if err := enc.Encode(t); err != nil {
			return fmt.Errorf("writing truth: %w", err)
		}
	}
	return nil
}
