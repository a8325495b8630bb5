package indexer

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/adwatch/adwatch/extractor/imagehash"
	"github.com/adwatch/adwatch/internal/ad"
)

// Linker links ads into profiles (one advertised person) and profiles into
// networks (one controller behind several persons).
//
// Two ads join one profile on person-level evidence:
//   - the same photo: perceptual hashes within the threshold (crops
//     tolerated, see imagehash.Near), or the same image file, unless the
//     two ads conflict (different phones and different names: a stolen
//     picture);
//   - the same social handle (Instagram, Snapchat, OnlyFans, ...);
//   - the same phone, email or payment handle together with the same
//     poster name, or with a near-duplicate body text when neither ad
//     names someone else.
//
// A phone, email or payment handle alone never joins profiles: it joins
// them into a network. One that links more than maxLink profiles (an
// agency line, a generic number) still shows but stops joining, and is
// listed by Capped.
//
// Linking is incremental and order-independent: profiles are the connected
// components of pairwise evidence, and a profile's id derives from its
// earliest ad, so the same ads in any order give the same ids. When two
// profiles merge the later id redirects to the earlier. Candidates come
// from look-ups (multi-index hashing of the perceptual hashes: four 16-bit
// bands probed within radius bound/4; maps of phones and handles), never
// from a scan of all ads.
type Linker struct {
	mu        sync.Mutex
	threshold int
	maxLink   int

	ids    []string         // ad index -> ad id
	index  map[string]int32 // ad id -> ad index
	facts  []facts          // ad index -> what links it
	parent []int32
	// Per component root.
	members map[int32][]int32
	label   map[int32]int32 // root -> earliest ad
	links   map[int32][]Link

	// Multi-index hashing of photos: plain hashes and crop-variant hashes
	// in separate tables, band value -> ads.
	plainBands   [bands]*bandTable
	variantBands [bands]*bandTable
	textBands    [4]map[uint16][]int32
	byFile       map[string][]int32
	byHandle     map[string][]int32 // social handles: person-level
	byContact    map[string][]int32 // phone, email or payment handle: network-level

	redirects map[string]string
	// fresh are the redirects made since TakeRedirects last ran.
	fresh map[string]string
	// byProfile maps a current profile id to its component root.
	byProfile map[string]int32

	// Networks: a second union-find over ads, joined by every profile
	// union and by the contacts that link at most maxLink profiles.
	nparent []int32
	nsize   []int32
	nlabel  map[int32]int32 // network root -> earliest ad
	// reps holds, per contact, one ad of each distinct profile carrying
	// it (compacted on use, as merges make some of them one profile).
	reps   map[string][]int32
	capped map[string]bool
	// netStale asks for the network union-find to be rebuilt: a contact
	// became capped, so links it made earlier no longer hold. It happens
	// once per agency line, not once per ad.
	netStale bool
	// bridged records a merge of two earlier profiles since the capped
	// contacts were last recounted: a capped contact may now link few
	// enough profiles to join them again.
	bridged bool
	newest  int32

	// work counts band probes and candidate hashes compared, for the
	// benchmark to show that the work per ad does not grow with the ads.
	work struct{ probes, candidates int64 }
}

// facts are what one ad offers for linking.
type facts struct {
	posted   time.Time
	name     string
	contacts []string // phones, emails, payment handles
	photos   []photo
	text     uint64
	hasText  bool
}

// photo is one image's perceptual hash and those of its crop variants.
type photo struct {
	plain uint64
	crops []uint64
}

// Link is one piece of evidence that joined two ads into one profile.
type Link struct {
	A        string `json:"a"`
	B        string `json:"b"`
	Evidence string `json:"evidence"`
	Detail   string `json:"detail,omitempty"`
}

// textThreshold is the largest SimHash distance of near-duplicate texts.
const textThreshold = 8

// NewLinker returns an empty Linker.
func NewLinker(phashThreshold, maxProfilesPerLink int) *Linker {
	l := &Linker{
		threshold: phashThreshold, maxLink: maxProfilesPerLink,
		index: map[string]int32{}, members: map[int32][]int32{}, label: map[int32]int32{}, links: map[int32][]Link{},
		byFile: map[string][]int32{}, byHandle: map[string][]int32{}, byContact: map[string][]int32{},
		redirects: map[string]string{}, fresh: map[string]string{}, byProfile: map[string]int32{},
		nlabel: map[int32]int32{}, reps: map[string][]int32{}, capped: map[string]bool{},
	}
	for i := range l.plainBands {
		l.plainBands[i] = &bandTable{}
		l.variantBands[i] = &bandTable{}
	}
	for i := range l.textBands {
		l.textBands[i] = map[uint16][]int32{}
	}
	return l
}

func (l *Linker) find(i int32) int32 { return findRoot(l.parent, i) }

// findRoot returns the root of i in a union-find forest, compressing the
// path on the way.
func findRoot(parent []int32, i int32) int32 {
	root := i
	for parent[root] != root {
		root = parent[root]
	}
	for i != root {
		next := parent[i]
		parent[i] = root
		i = next
	}
	return root
}

func (l *Linker) earlier(a, b int32) bool {
	fa, fb := l.facts[a].posted, l.facts[b].posted
	if !fa.Equal(fb) {
		return fa.Before(fb)
	}
	return l.ids[a] < l.ids[b]
}

// union joins the components of a and b on the given evidence, records in
// changed every ad whose profile id changed, and the redirect of the id
// that disappears.
func (l *Linker) union(a, b int32, evidence, detail string, changed map[int32]bool) {
	ra, rb := l.find(a), l.find(b)
	if ra == rb {
		return
	}
	if len(l.members[ra]) < len(l.members[rb]) {
		ra, rb = rb, ra
	}
	la, lb := l.label[ra], l.label[rb]
	winner, loser, moved := la, lb, l.members[rb]
	if l.earlier(lb, la) {
		winner, loser, moved = lb, la, l.members[ra]
	}
	for _, m := range moved {
		changed[m] = true
	}
	if !l.singleNewest(ra) && !l.singleNewest(rb) {
		l.bridged = true
	}
	l.nunion(a, b)
	delete(l.byProfile, profileID(l.ids[loser]))
	l.byProfile[profileID(l.ids[winner])] = ra
	l.redirects[profileID(l.ids[loser])] = profileID(l.ids[winner])
	l.fresh[profileID(l.ids[loser])] = profileID(l.ids[winner])
	l.parent[rb] = ra
	l.members[ra] = append(l.members[ra], l.members[rb]...)
	l.links[ra] = append(append(l.links[ra], l.links[rb]...), Link{A: l.ids[a], B: l.ids[b], Evidence: evidence, Detail: detail})
	delete(l.members, rb)
	delete(l.label, rb)
	delete(l.links, rb)
	l.label[ra] = winner
}

// singleNewest reports whether the component of root is only the ad
// being added.
func (l *Linker) singleNewest(root int32) bool {
	m := l.members[root]
	return len(m) == 1 && m[0] == l.newest
}

func (l *Linker) nfind(i int32) int32 { return findRoot(l.nparent, i) }

// nunion joins the networks of ads a and b.
func (l *Linker) nunion(a, b int32) {
	ra, rb := l.nfind(a), l.nfind(b)
	if ra == rb {
		return
	}
	if l.nsize[ra] < l.nsize[rb] {
		ra, rb = rb, ra
	}
	l.nparent[rb] = ra
	l.nsize[ra] += l.nsize[rb]
	if l.earlier(l.nlabel[rb], l.nlabel[ra]) {
		l.nlabel[ra] = l.nlabel[rb]
	}
	delete(l.nlabel, rb)
}

// profilesWith compacts the representatives of contact c to one ad per
// distinct profile and returns them.
func (l *Linker) profilesWith(c string) []int32 {
	rs := l.reps[c]
	seen := make(map[int32]bool, len(rs))
	out := rs[:0]
	for _, r := range rs {
		root := l.find(r)
		if !seen[root] {
			seen[root] = true
			out = append(out, r)
		}
	}
	l.reps[c] = out
	return out
}

// linkContact records that ad i carries contact c, and joins the profiles
// with c into one network while they are at most maxLink.
func (l *Linker) linkContact(c string, i int32) {
	l.reps[c] = append(l.reps[c], i)
	rs := l.profilesWith(c)
	if len(rs) > l.maxLink {
		if !l.capped[c] {
			l.capped[c] = true
			l.netStale = true
		}
		return
	}
	delete(l.capped, c)
	for _, r := range rs[1:] {
		l.nunion(rs[0], r)
	}
}

// settleNetworks brings the network union-find up to date: capped
// contacts recounted after merges, and a rebuild when a contact became
// capped.
func (l *Linker) settleNetworks() {
	if l.bridged {
		l.bridged = false
		for c := range l.capped {
			if rs := l.profilesWith(c); len(rs) <= l.maxLink {
				delete(l.capped, c)
				for _, r := range rs[1:] {
					l.nunion(rs[0], r)
				}
			}
		}
	}
	if !l.netStale {
		return
	}
	l.netStale = false
	clear(l.nlabel)
	for i := range l.nparent {
		l.nparent[i], l.nsize[i] = int32(i), 1
		l.nlabel[int32(i)] = int32(i)
	}
	for _, ms := range l.members {
		for _, m := range ms[1:] {
			l.nunion(ms[0], m)
		}
	}
	for c, rs := range l.reps {
		if !l.capped[c] {
			for _, r := range rs[1:] {
				l.nunion(rs[0], r)
			}
		}
	}
}

// personal reports whether a handle identifies one person (a social
// account) rather than possibly a controller (email, payment, domain).
func personal(h string) bool {
	kind, _, _ := strings.Cut(h, ":")
	switch kind {
	case "instagram", "snapchat", "twitter", "onlyfans", "kik", "telegram":
		return true
	}
	return false
}

func normName(n string) string { return strings.ToLower(strings.Join(strings.Fields(n), " ")) }

// conflict reports ads that cannot be one person on photo evidence alone:
// both have phones and names, and share neither.
func (l *Linker) conflict(a, b int32) bool {
	fa, fb := &l.facts[a], &l.facts[b]
	if len(fa.contacts) == 0 || len(fb.contacts) == 0 || fa.name == "" || fb.name == "" {
		return false
	}
	if fa.name == fb.name {
		return false
	}
	for _, c := range fa.contacts {
		for _, d := range fb.contacts {
			if c == d {
				return false
			}
		}
	}
	return true
}

// Add links a and returns the ads whose profile id changed (a among them).
// Adding an ad twice changes nothing.
func (l *Linker) Add(a *ad.Ad) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	changed := map[int32]bool{}
	if _, known := l.index[a.ID]; known {
		return nil
	}
	i := int32(len(l.ids))
	l.ids = append(l.ids, a.ID)
	l.index[a.ID] = i
	f := facts{posted: a.PostedAt, name: normName(a.Poster)}
	f.contacts = append(f.contacts, a.PhoneNumbers()...)
	var social []string
	for _, h := range a.Handles {
		if personal(h) {
			social = append(social, h)
		} else {
			f.contacts = append(f.contacts, h)
		}
	}
	if strings.TrimSpace(a.Body) != "" {
		f.text, f.hasText = SimHash(a.Body), true
	}
	for _, img := range a.Images {
		if p, ok := parsePhoto(img); ok && img.Error == "" {
			f.photos = append(f.photos, p)
		}
	}
	l.facts = append(l.facts, f)
	l.parent = append(l.parent, i)
	l.members[i] = []int32{i}
	l.label[i] = i
	l.byProfile[profileID(a.ID)] = i
	l.nparent = append(l.nparent, i)
	l.nsize = append(l.nsize, 1)
	l.nlabel[i] = i
	l.newest = i
	changed[i] = true

	// Social handles: person-level.
	for _, h := range social {
		for _, o := range l.byHandle[h] {
			l.union(i, o, "handle", h, changed)
		}
		l.byHandle[h] = append(l.byHandle[h], i)
	}
	// Contacts: with the same name, or with near-duplicate text when
	// neither ad names someone else.
	for _, c := range f.contacts {
		for _, o := range l.byContact[c] {
			of := &l.facts[o]
			switch {
			case f.name != "" && f.name == of.name:
				l.union(i, o, "contact and name", c, changed)
			case f.hasText && of.hasText && (f.name == "" || of.name == "" || f.name == of.name) &&
				imagehash.Distance(f.text, of.text) <= textThreshold:
				l.union(i, o, "contact and text", c, changed)
			}
		}
		l.byContact[c] = append(l.byContact[c], i)
	}
	// Photos.
	for _, img := range a.Images {
		if img.SHA256 == "" || img.Error != "" {
			continue
		}
		for _, o := range l.byFile[img.SHA256] {
			if !l.conflict(i, o) {
				l.union(i, o, "same image file", img.SHA256, changed)
			}
		}
		l.byFile[img.SHA256] = append(l.byFile[img.SHA256], i)
	}
	for _, p := range f.photos {
		for _, o := range l.nearPhotos(p) {
			if o != i && !l.conflict(i, o) {
				l.union(i, o, "near-duplicate photo", imagehash.Hex(p.plain), changed)
			}
		}
		addBands(&l.plainBands, p.plain, i)
		for _, c := range p.crops {
			addBands(&l.variantBands, c, i)
		}
	}
	if f.hasText {
		for b := range l.textBands {
			k := uint16(f.text >> (16 * b))
			l.textBands[b][k] = append(l.textBands[b][k], i)
		}
	}
	// Networks, once the ad's profile is settled.
	for k, c := range f.contacts {
		if !slices.Contains(f.contacts[:k], c) {
			l.linkContact(c, i)
		}
	}
	out := make([]string, 0, len(changed))
	for m := range changed {
		out = append(out, l.ids[m])
	}
	sort.Strings(out)
	return out
}

func parsePhoto(img ad.Image) (photo, bool) {
	if img.PHash == "" {
		return photo{}, false
	}
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

// bands is how many 16-bit bands a 64-bit hash is cut into. Two hashes
// within bound bits agree, by pigeonhole, within bound/4 bits on one band:
// the linking threshold (8) is probed at radius 2 (137 values a band), the
// tighter crop-variant bound (6) at radius 1 (17 values a band).
const bands = 4

// band returns the b-th 16-bit band of h.
func band(h uint64, b int) uint32 { return uint32(h>>(16*b)) & 0xffff }

// bandEntry is one stored hash: the whole hash, so that a candidate is
// checked with one popcount before anything else, and its ad.
type bandEntry struct {
	hash uint64
	ad   int32
}

// bandTable holds, for each of the 65,536 values of one band, the hashes
// stored under it, in one slice: a probe is one index into a dense array,
// and a bucket's entries are read in sequence.
type bandTable struct {
	buckets [][]bandEntry // allocated on first use
}

func (t *bandTable) add(k uint32, e bandEntry) {
	if t.buckets == nil {
		t.buckets = make([][]bandEntry, 1<<16)
	}
	t.buckets[k] = append(t.buckets[k], e)
}

func (t *bandTable) get(k uint32) []bandEntry {
	if t.buckets == nil {
		return nil
	}
	return t.buckets[k]
}

func addBands(t *[bands]*bandTable, h uint64, ad int32) {
	for b, tb := range t {
		tb.add(band(h, b), bandEntry{h, ad})
	}
}

// nearPhotos returns the ads with a photo that imagehash.Near links to p:
// p's plain hash against stored plain hashes (within the threshold) and
// stored crop variants (within the tighter variant bound), and p's crop
// variants against stored plain hashes. Two hashes within a bound agree,
// by pigeonhole, within bound/4 bits on one of the four bands.
func (l *Linker) nearPhotos(p photo) []int32 {
	seen := map[int32]bool{}
	var out []int32
	probe := func(t *[bands]*bandTable, h uint64, bound int) {
		radius := bound / bands
		for b, tb := range t {
			forEachWithin(band(h, b), 16, radius, func(v uint32) {
				l.work.probes++
				for _, e := range tb.get(v) {
					l.work.candidates++
					// The probe's own pair (query hash, stored hash) decides:
					// this is the distance imagehash.Near would find for it.
					if imagehash.Distance(h, e.hash) > bound || seen[e.ad] {
						continue
					}
					seen[e.ad] = true
					out = append(out, e.ad)
				}
			})
		}
	}
	variantBound := l.threshold - imagehash.VariantMargin
	probe(&l.plainBands, p.plain, l.threshold)
	probe(&l.variantBands, p.plain, variantBound)
	for _, c := range p.crops {
		probe(&l.plainBands, c, variantBound)
	}
	return out
}

// forEachWithin calls f with every value of width bits within Hamming
// radius r of v.
func forEachWithin(v uint32, width, r int, f func(uint32)) {
	var rec func(val uint32, from, left int)
	rec = func(val uint32, from, left int) {
		f(val)
		if left == 0 {
			return
		}
		for bit := from; bit < width; bit++ {
			rec(val^(1<<bit), bit+1, left-1)
		}
	}
	rec(v, 0, r)
}

// Has reports whether the ad id was linked.
func (l *Linker) Has(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.index[id]
	return ok
}

// Profile returns the profile id of an ad, or "" for an unknown ad.
func (l *Linker) Profile(adID string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	i, ok := l.index[adID]
	if !ok {
		return ""
	}
	return l.profile(i)
}

func (l *Linker) profile(i int32) string { return profileID(l.ids[l.label[l.find(i)]]) }

func profileID(labelAd string) string {
	s := sha256.Sum256([]byte(labelAd))
	return "P" + hex.EncodeToString(s[:6])
}

// TakeRedirects returns the redirects made since the last call, for the
// index to persist.
func (l *Linker) TakeRedirects() map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.fresh
	l.fresh = map[string]string{}
	return out
}

// AddRedirect records a redirect made before a restart, unless the old id
// is a current profile again.
func (l *Linker) AddRedirect(from, to string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.redirects[from]; !ok {
		if _, current := l.root(from); !current {
			l.redirects[from] = to
		}
	}
}

// Resolve follows redirects: the current id of a profile that was merged
// into another, or id itself.
func (l *Linker) Resolve(id string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	for range 64 {
		next, ok := l.redirects[id]
		if !ok {
			return id
		}
		id = next
	}
	return id
}

// root returns the component of a current profile id.
func (l *Linker) root(profile string) (int32, bool) {
	r, ok := l.byProfile[profile]
	return r, ok
}

// withProfile calls f, under the lock, with the component of a profile id
// (after redirects); it reports false for an unknown profile.
func (l *Linker) withProfile(profile string, f func(root int32)) bool {
	profile = l.Resolve(profile)
	l.mu.Lock()
	defer l.mu.Unlock()
	r, ok := l.root(profile)
	if ok {
		f(r)
	}
	return ok
}

// Members returns the ad ids of a profile (after redirects).
func (l *Linker) Members(profile string) []string {
	var out []string
	l.withProfile(profile, func(r int32) {
		for _, m := range l.members[r] {
			out = append(out, l.ids[m])
		}
	})
	sort.Strings(out)
	return out
}

// Links returns the evidence that joined a profile's ads.
func (l *Linker) Links(profile string) []Link {
	var out []Link
	l.withProfile(profile, func(r int32) { out = append(out, l.links[r]...) })
	return out
}

// Templates returns the other profiles whose ads share a near-duplicate
// body text with this profile's: the "same template" relation.
func (l *Linker) Templates(profile string) []string {
	set := map[string]bool{}
	l.withProfile(profile, func(r int32) {
		for _, m := range l.members[r] {
			f := l.facts[m]
			if !f.hasText {
				continue
			}
			for b := range l.textBands {
				forEachWithin(uint32(uint16(f.text>>(16*b))), 16, textThreshold/len(l.textBands), func(v uint32) {
					for _, o := range l.textBands[b][uint16(v)] {
						if l.find(o) != r && imagehash.Distance(f.text, l.facts[o].text) <= textThreshold {
							set[l.profile(o)] = true
						}
					}
				})
			}
		}
	})
	return sortedKeys(set)
}

// SimilarPhotos returns the profiles with a photo that links to the given
// fingerprint.
func (l *Linker) SimilarPhotos(plain uint64, crops []uint64) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	set := map[string]bool{}
	for _, o := range l.nearPhotos(photo{plain: plain, crops: crops}) {
		set[l.profile(o)] = true
	}
	return sortedKeys(set)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Network returns the network id of a profile: "N" and the id of the
// network's earliest profile; "" for an unknown profile.
func (l *Linker) Network(profile string) string {
	profile = l.Resolve(profile)
	l.mu.Lock()
	defer l.mu.Unlock()
	r, ok := l.byProfile[profile]
	if !ok {
		return ""
	}
	l.settleNetworks()
	return l.networkOf(r)
}

func (l *Linker) networkOf(i int32) string {
	return "N" + profileID(l.ids[l.nlabel[l.nfind(i)]])[1:]
}

// Capped lists the phones and handles that link too many profiles to join
// networks (agency lines, generic numbers).
func (l *Linker) Capped() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.settleNetworks()
	return slices.Sorted(maps.Keys(l.capped))
}

// ProfilesOfPhone returns the distinct profiles whose ads carry the phone
// (or email or payment handle).
func (l *Linker) ProfilesOfPhone(phone string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.profilesOf(phone)
}

func (l *Linker) profilesOf(contact string) []string {
	set := map[string]bool{}
	for _, i := range l.byContact[contact] {
		set[l.profile(i)] = true
	}
	return sortedKeys(set)
}

// Stats counts profiles and networks.
func (l *Linker) Stats() (ads, profiles, networks int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.settleNetworks()
	nets := map[int32]bool{}
	for r := range l.label {
		nets[l.nfind(r)] = true
	}
	return len(l.ids), len(l.label), len(nets)
}
