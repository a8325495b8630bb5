package indexer

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/adwatch/adwatch/extractor/imagehash"
	"github.com/adwatch/adwatch/internal/ad"
)

// Linker links ads into profiles (one advertised person) and profiles into
// networks. Two ads join one profile on person-level evidence: a
// near-duplicate photo (perceptual hashes within the threshold), the same
// image file, or the same phone together with the same poster name. A
// phone alone never joins profiles; it joins them into a network.
//
// Linking is incremental and order-independent: the profiles are the
// connected components of the evidence, and a profile's id comes from its
// earliest ad, so the same ads in any order give the same ids. Near-photo
// candidates are found by multi-index hashing (four 16-bit bands, each
// probed within radius threshold/4), never by a scan of all ads.
type Linker struct {
	mu        sync.Mutex
	threshold int
	maxLink   int

	parent  map[string]string
	members map[string][]string // root -> ad ids
	label   map[string]labelKey // root -> earliest ad
	phones  map[string][]string // ad -> phones
	hashes  map[string][]photo  // ad -> its photos' hashes

	bands     [4]map[uint16][]bandEntry // band value -> photos
	byFile    map[string][]string       // image sha256 -> ads
	byContact map[string][]string       // phone|name -> ads
	byPhone   map[string][]string       // phone -> ads

	netVersion, version int
	networks            map[string]string // profile -> network
	capped              []string          // phones that stopped linking
}

// photo is one image's perceptual hash and those of its crop variants.
type photo struct {
	plain uint64
	crops []uint64
}

// bandEntry is one hash in a band: the ad, and whether the hash is a crop
// variant (variants are matched only against plain hashes).
type bandEntry struct {
	ad      string
	variant bool
}

type labelKey struct {
	at time.Time
	id string
}

func (a labelKey) less(b labelKey) bool {
	if !a.at.Equal(b.at) {
		return a.at.Before(b.at)
	}
	return a.id < b.id
}

// NewLinker returns an empty Linker.
func NewLinker(phashThreshold, maxProfilesPerLink int) *Linker {
	l := &Linker{
		threshold: phashThreshold, maxLink: maxProfilesPerLink,
		parent: map[string]string{}, members: map[string][]string{}, label: map[string]labelKey{},
		phones: map[string][]string{}, hashes: map[string][]photo{},
		byFile: map[string][]string{}, byContact: map[string][]string{}, byPhone: map[string][]string{},
	}
	for i := range l.bands {
		l.bands[i] = map[uint16][]bandEntry{}
	}
	return l
}

func (l *Linker) find(id string) string {
	root := id
	for l.parent[root] != root {
		root = l.parent[root]
	}
	for id != root {
		next := l.parent[id]
		l.parent[id] = root
		id = next
	}
	return root
}

// union joins the components of a and b and records in changed every ad
// whose profile id changed.
func (l *Linker) union(a, b string, changed map[string]bool) {
	ra, rb := l.find(a), l.find(b)
	if ra == rb {
		return
	}
	if len(l.members[ra]) < len(l.members[rb]) {
		ra, rb = rb, ra
	}
	la, lb := l.label[ra], l.label[rb]
	winner := la
	if lb.less(la) {
		winner = lb
		for _, m := range l.members[ra] {
			changed[m] = true
		}
	} else {
		for _, m := range l.members[rb] {
			changed[m] = true
		}
	}
	l.parent[rb] = ra
	l.members[ra] = append(l.members[ra], l.members[rb]...)
	delete(l.members, rb)
	delete(l.label, rb)
	l.label[ra] = winner
}

func contactKey(phone, name string) string {
	return phone + "|" + strings.ToLower(strings.Join(strings.Fields(name), " "))
}

// Add links a and returns the ads whose profile id changed (a among them).
// Adding an ad twice changes nothing.
func (l *Linker) Add(a *ad.Ad) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	changed := map[string]bool{}
	if _, ok := l.parent[a.ID]; !ok {
		l.parent[a.ID] = a.ID
		l.members[a.ID] = []string{a.ID}
		l.label[a.ID] = labelKey{a.PostedAt, a.ID}
		changed[a.ID] = true
	}
	l.version++
	link := func(index map[string][]string, key string) {
		for _, other := range index[key] {
			l.union(a.ID, other, changed)
		}
		if !contains(index[key], a.ID) {
			index[key] = append(index[key], a.ID)
		}
	}
	for _, ph := range a.Phones {
		if !contains(l.phones[a.ID], ph.E164) {
			l.phones[a.ID] = append(l.phones[a.ID], ph.E164)
		}
		if !contains(l.byPhone[ph.E164], a.ID) {
			l.byPhone[ph.E164] = append(l.byPhone[ph.E164], a.ID)
		}
		if strings.TrimSpace(a.Poster) != "" {
			link(l.byContact, contactKey(ph.E164, a.Poster))
		}
	}
	for _, img := range a.Images {
		if img.SHA256 != "" && img.Error == "" {
			link(l.byFile, img.SHA256)
		}
		if img.PHash == "" {
			continue
		}
		ph, ok := parsePhoto(img)
		if !ok {
			continue
		}
		for _, other := range l.nearPhotos(ph) {
			if other != a.ID {
				l.union(a.ID, other, changed)
			}
		}
		if !containsPhoto(l.hashes[a.ID], ph.plain) {
			l.hashes[a.ID] = append(l.hashes[a.ID], ph)
			l.addBands(ph.plain, bandEntry{a.ID, false})
			for _, c := range ph.crops {
				l.addBands(c, bandEntry{a.ID, true})
			}
		}
	}
	out := make([]string, 0, len(changed))
	for id := range changed {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

func parsePhoto(img ad.Image) (photo, bool) {
	h, err := imagehash.ParseHex(img.PHash)
	if err != nil {
		return photo{}, false
	}
	p := photo{plain: h}
	for _, c := range img.PHashCrops {
		if v, err := imagehash.ParseHex(c); err == nil {
			p.crops = append(p.crops, v)
		}
	}
	return p, true
}

func (l *Linker) addBands(h uint64, e bandEntry) {
	for i := range l.bands {
		b := uint16(h >> (16 * i))
		l.bands[i][b] = append(l.bands[i][b], e)
	}
}

// nearPhotos returns the ads with a photo within the threshold of p: its
// plain hash against every stored hash, its crop variants against stored
// plain hashes.
func (l *Linker) nearPhotos(p photo) []string {
	radius := l.threshold / len(l.bands)
	seen := map[string]bool{}
	var out []string
	probe := func(h uint64, variant bool) {
		for i := range l.bands {
			b := uint16(h >> (16 * i))
			forEachWithin(b, radius, func(v uint16) {
				for _, e := range l.bands[i][v] {
					if seen[e.ad] || (variant && e.variant) {
						continue
					}
					for _, other := range l.hashes[e.ad] {
						if imagehash.Near(p.plain, p.crops, other.plain, other.crops, l.threshold) {
							seen[e.ad] = true
							out = append(out, e.ad)
							break
						}
					}
				}
			})
		}
	}
	probe(p.plain, false)
	for _, c := range p.crops {
		probe(c, true)
	}
	return out
}

// forEachWithin calls f with every 16-bit value within Hamming radius r of v.
func forEachWithin(v uint16, r int, f func(uint16)) {
	var rec func(val uint16, from, left int)
	rec = func(val uint16, from, left int) {
		f(val)
		if left == 0 {
			return
		}
		for bit := from; bit < 16; bit++ {
			rec(val^(1<<bit), bit+1, left-1)
		}
	}
	rec(v, 0, r)
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func containsPhoto(s []photo, v uint64) bool {
	for _, x := range s {
		if x.plain == v {
			return true
		}
	}
	return false
}

// Has reports whether the ad id was linked.
func (l *Linker) Has(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.parent[id]
	return ok
}

// Profile returns the profile id of an ad, or "" for an unknown ad.
func (l *Linker) Profile(adID string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.profile(adID)
}

func (l *Linker) profile(adID string) string {
	if _, ok := l.parent[adID]; !ok {
		return ""
	}
	return profileID(l.label[l.find(adID)].id)
}

func profileID(labelAd string) string {
	s := sha256.Sum256([]byte(labelAd))
	return "P" + hex.EncodeToString(s[:6])
}

// Members returns the ad ids of a profile.
func (l *Linker) Members(profile string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	for root, lab := range l.label {
		if profileID(lab.id) == profile {
			out := append([]string(nil), l.members[root]...)
			sort.Strings(out)
			return out
		}
	}
	return nil
}

// Network returns the network id of a profile: profiles joined by shared
// phones, except phones shared by more than the cap.
func (l *Linker) Network(profile string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.computeNetworks()
	return l.networks[profile]
}

// CappedPhones lists phones that link too many profiles to join networks.
func (l *Linker) CappedPhones() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.computeNetworks()
	return append([]string(nil), l.capped...)
}

// ProfilesOfPhone returns the distinct profiles whose ads carry phone.
func (l *Linker) ProfilesOfPhone(phone string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.profilesOf(phone)
}

func (l *Linker) profilesOf(phone string) []string {
	set := map[string]bool{}
	for _, id := range l.byPhone[phone] {
		set[l.profile(id)] = true
	}
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

func (l *Linker) computeNetworks() {
	if l.networks != nil && l.netVersion == l.version {
		return
	}
	parent := map[string]string{}
	var find func(string) string
	find = func(p string) string {
		if parent[p] == "" || parent[p] == p {
			parent[p] = p
			return p
		}
		r := find(parent[p])
		parent[p] = r
		return r
	}
	l.capped = nil
	phones := make([]string, 0, len(l.byPhone))
	for ph := range l.byPhone {
		phones = append(phones, ph)
	}
	sort.Strings(phones)
	for _, ph := range phones {
		ps := l.profilesOf(ph)
		if len(ps) > l.maxLink {
			l.capped = append(l.capped, ph)
			continue
		}
		for _, p := range ps[1:] {
			ra, rb := find(ps[0]), find(p)
			if ra < rb {
				parent[rb] = ra
			} else if rb < ra {
				parent[ra] = rb
			}
		}
	}
	l.networks = map[string]string{}
	for _, lab := range l.label {
		p := profileID(lab.id)
		l.networks[p] = "N" + find(p)[1:]
	}
	l.netVersion = l.version
}
