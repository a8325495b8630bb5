package indexer

import (
	"slices"
	"sort"
	"time"

	"github.com/adwatch/adwatch/internal/record"
)

// ProfileView is what an investigator sees of one profile.
type ProfileView struct {
	ID      string      `json:"id"`
	Network string      `json:"network"`
	Ads     []record.Ad `json:"ads"`
	Cities  []string    `json:"cities"`
	First   time.Time   `json:"first"`
	Last    time.Time   `json:"last"`
	Phones  []string    `json:"phones"`
	Ages    []int       `json:"ages"`
	Names   []string    `json:"names"`
	Handles []string    `json:"handles"`
	// AgeSpread is the oldest minus the youngest stated age.
	AgeSpread int `json:"age_spread"`
	// NetworkProfiles are the other profiles sharing a phone, email or
	// payment handle with this one.
	NetworkProfiles []string `json:"network_profiles"`
	// Templates are the profiles whose ads share a near-duplicate text.
	Templates []string `json:"same_template"`
	// Links are the evidence that joined the ads, pair by pair.
	Links []Link `json:"links"`
	// Shared says, for each phone and handle, how many other profiles
	// use it.
	Shared []SharedIdentifier `json:"phone_profiles"`
	// StatedAges are the ages stated, ad by ad, in time order.
	StatedAges []StatedAge `json:"stated_ages"`
}

// SharedIdentifier is a profile's phone or handle and how many other
// profiles use it.
type SharedIdentifier struct {
	Value string `json:"value"`
	// Profiles is the number of other profiles using it.
	Profiles int `json:"profiles"`
}

// StatedAge is an age an ad stated and the day it was posted.
type StatedAge struct {
	Date string `json:"date"`
	Age  int    `json:"age"`
	Ad   string `json:"ad"`
}

// Profile returns the view of profile id.
func (x *Index) Profile(id string) (ProfileView, bool, error) {
	id = x.Linker.Resolve(id)
	ids := x.Linker.Members(id)
	if len(ids) == 0 {
		return ProfileView{}, false, nil
	}
	ads, err := x.GetMany(ids)
	if err != nil {
		return ProfileView{}, false, err
	}
	v := ProfileView{ID: id, Network: x.Linker.Network(id), Ads: ads}
	cities, phones, ages, names, handles := map[string]bool{}, map[string]bool{}, map[int]bool{}, map[string]bool{}, map[string]bool{}
	for _, a := range ads {
		cities[a.City] = true
		for _, p := range a.Phones {
			phones[p.E164] = true
		}
		for _, n := range a.Ages {
			ages[n] = true
		}
		if a.Poster != "" {
			names[a.Poster] = true
		}
		for _, h := range a.Handles {
			handles[h] = true
		}
	}
	if len(ads) > 0 {
		v.First, v.Last = ads[0].PostedAt, ads[len(ads)-1].PostedAt
	}
	v.Cities, v.Phones, v.Names, v.Handles = sortedKeys(cities), sortedKeys(phones), sortedKeys(names), sortedKeys(handles)
	for n := range ages {
		v.Ages = append(v.Ages, n)
	}
	sort.Ints(v.Ages)
	if len(v.Ages) > 0 {
		v.AgeSpread = v.Ages[len(v.Ages)-1] - v.Ages[0]
	}
	idents := append(slices.Clone(v.Phones), v.Handles...)
	using := x.Linker.Using(idents)
	others := map[string]bool{}
	for _, p := range idents {
		for _, o := range using[p].Contact {
			if o != id {
				others[o] = true
			}
		}
	}
	v.NetworkProfiles = sortedKeys(others)
	v.Shared = []SharedIdentifier{}
	for _, p := range idents {
		all := map[string]bool{}
		for _, o := range append(slices.Clone(using[p].Contact), using[p].Social...) {
			if o != id {
				all[o] = true
			}
		}
		v.Shared = append(v.Shared, SharedIdentifier{Value: p, Profiles: len(all)})
	}
	v.StatedAges = []StatedAge{}
	for _, a := range ads {
		for _, n := range a.Ages {
			v.StatedAges = append(v.StatedAges, StatedAge{Date: a.PostedAt.UTC().Format(time.DateOnly), Age: n, Ad: a.ID})
		}
	}
	v.Templates = x.Linker.Templates(id)
	v.Links = x.Linker.Links(id)
	return v, true, nil
}
