package indexer

import (
	"slices"
	"sort"
	"time"

	"github.com/adwatch/adwatch/extractor/handle"
	"github.com/adwatch/adwatch/internal/record"
)

// NetworkView is what an investigator sees of one network: its profiles,
// the identifiers they share, the contacts too common to join profiles
// (capped), and its size over all time and of late.
type NetworkView struct {
	ID       string          `json:"id"`
	Profiles []NetworkMember `json:"profiles"`
	// Identifiers are the phones, emails, payment and social handles of
	// the network's ads, each with the network's profiles that use it.
	Identifiers []Identifier `json:"identifiers"`
	// Capped are the identifiers of the network's ads that link more than
	// MaxProfilesPerLink profiles and so join none.
	Capped             []Identifier `json:"capped"`
	MaxProfilesPerLink int          `json:"max_profiles_per_link"`
	// Size counts the profiles and ads of all time and of the 30 days
	// before now.
	Size NetworkSize `json:"size"`
}

// NetworkMember is one profile of a network.
type NetworkMember struct {
	ID     string    `json:"id"`
	Ads    int       `json:"ads"`
	Cities []string  `json:"cities"`
	First  time.Time `json:"first"`
	Last   time.Time `json:"last"`
}

// Identifier is a phone or handle and the profiles that use it.
type Identifier struct {
	Value string `json:"value"`
	// Kind is "phone", "contact" (email, payment handle, domain: joins
	// networks) or "social" (joins profiles).
	Kind string `json:"kind"`
	// Profiles are the profiles of this network that use it.
	Profiles []string `json:"profiles"`
	// AllProfiles is how many profiles use it anywhere.
	AllProfiles int  `json:"all_profiles"`
	Capped      bool `json:"capped,omitempty"`
}

// NetworkSize is a network's size over all time and of the last 30 days.
type NetworkSize struct {
	Profiles           int `json:"profiles"`
	Ads                int `json:"ads"`
	ProfilesLast30Days int `json:"profiles_last_30_days"`
	AdsLast30Days      int `json:"ads_last_30_days"`
}

// Network returns the view of network id; "last 30 days" ends at now.
func (x *Index) Network(id string, now time.Time) (NetworkView, bool, error) {
	members := x.Linker.NetworkMembers(id)
	if len(members) == 0 {
		return NetworkView{}, false, nil
	}
	v := NetworkView{ID: id, Profiles: []NetworkMember{}, Identifiers: []Identifier{}, Capped: []Identifier{},
		MaxProfilesPerLink: x.Linker.MaxProfilesPerLink()}
	since := now.AddDate(0, 0, -30)
	ids := map[string]*Identifier{}
	for _, p := range members {
		ads, err := x.GetMany(x.Linker.Members(p))
		if err != nil {
			return NetworkView{}, false, err
		}
		s := summarize(p, ads)
		v.Profiles = append(v.Profiles, NetworkMember{ID: p, Ads: s.Ads, Cities: s.Cities, First: s.First, Last: s.LastSeen})
		v.Size.Profiles++
		v.Size.Ads += len(ads)
		recent := 0
		for _, a := range ads {
			if !a.PostedAt.Before(since) && !a.PostedAt.After(now) {
				recent++
			}
			for _, c := range identifiersOf(&a) {
				id := ids[c.Value]
				if id == nil {
					id = &Identifier{Value: c.Value, Kind: c.Kind}
					ids[c.Value] = id
				}
				if !slices.Contains(id.Profiles, p) {
					id.Profiles = append(id.Profiles, p)
				}
			}
		}
		if recent > 0 {
			v.Size.ProfilesLast30Days++
			v.Size.AdsLast30Days += recent
		}
	}
	values := make([]string, 0, len(ids))
	for v := range ids {
		values = append(values, v)
	}
	using := x.Linker.Using(values)
	for _, id := range ids {
		u := using[id.Value]
		all := map[string]bool{}
		for _, o := range append(slices.Clone(u.Contact), u.Social...) {
			all[o] = true
		}
		id.AllProfiles = len(all)
		id.Capped = id.Kind != "social" && x.Linker.IsCapped(id.Value)
		if id.Capped {
			v.Capped = append(v.Capped, *id)
		} else {
			v.Identifiers = append(v.Identifiers, *id)
		}
	}
	for _, l := range [][]Identifier{v.Identifiers, v.Capped} {
		sort.Slice(l, func(i, j int) bool {
			if len(l[i].Profiles) != len(l[j].Profiles) {
				return len(l[i].Profiles) > len(l[j].Profiles)
			}
			return l[i].Value < l[j].Value
		})
	}
	return v, true, nil
}

// identifiersOf lists an ad's phones and handles with their kinds.
func identifiersOf(a *record.Ad) []Identifier {
	var out []Identifier
	for _, p := range a.Phones {
		out = append(out, Identifier{Value: p.E164, Kind: "phone"})
	}
	for _, h := range a.Handles {
		kind := "contact"
		if handle.Personal(h) {
			kind = "social"
		}
		out = append(out, Identifier{Value: h, Kind: kind})
	}
	return out
}
