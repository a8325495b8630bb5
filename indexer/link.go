package indexer

import (
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/adwatch/adwatch/extractor/handle"
	"github.com/adwatch/adwatch/internal/record"
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
// bands, each probed within a radius, the radii adding up to bound-3; maps
// of phones and handles), never from a scan of all ads.
type Linker struct {
	mu sync.Mutex
	linkState
}

// linkState is everything a Linker knows, apart from its lock, so that a
// rebuilt state can take the place of the old one at once (Index.Purge).
type linkState struct {
	threshold int
	maxLink   int

	ids   []string         // ad index -> ad id
	index map[string]int32 // ad id -> ad index; nil after a load until asked (indexMap)
	facts factTable        // ad index -> what links it
	sets  unionFind        // ad index -> profile
	// Per component root.
	members map[int32][]int32 // nil after a load until asked (memberMap)
	label   map[int32]int32   // root -> earliest ad
	links   map[int32][]edge  // nil after a load until first asked (linkMap)
	// otherEvidence are the Link.Evidence values not in evidences that a
	// saved state held (written by a later version): edge.ev counts them
	// after evidences.
	otherEvidence []string
	// lazyLinks holds the links encoded meanwhile.
	lazyLinks []byte

	// Multi-index hashing of photos: plain hashes and crop-variant hashes
	// in separate tables, band value -> ads.
	plainBands   photoBands
	variantBands photoBands
	// scratch is what the photo look-ups reuse.
	scratch   lookScratch
	textBands [4]map[uint16][]int32
	byFile    postings
	byHandle  postings // social handles: person-level
	byContact postings // phone, email or payment handle: network-level

	// redirects map each merged profile's id to the id it merged into;
	// after a load, held encoded in lazyRedirects until first asked
	// (redirectMap).
	redirects     map[string]string
	lazyRedirects []byte
	// fresh are the redirects made since TakeRedirects last ran.
	fresh map[string]string
	// byProfile maps a current profile id to its component root; nil
	// after a load until first asked (profileRoots), so that the read
	// commands, which resolve ads to profiles, do not build it.
	byProfile map[string]int32

	// Networks: a second union-find over ads, joined by every profile
	// union and by the contacts that link at most maxLink profiles.
	nsets  unionFind
	nsize  []int32
	nlabel map[int32]int32 // network root -> earliest ad
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

	// lookupsMissing is true while the look-up tables (bands, byFile, byHandle,
	// byContact, reps) are not built from the facts: a linker loaded from
	// its saved state builds them on first use (ensureLookups), so that
	// the read commands, which need none of them, do not pay for them.
	lookupsMissing bool
	// lazyFacts is the saved facts and reps (encodeFacts), decoded by
	// ensureLookups.
	lazyFacts []byte
	// readLookups is true once, with lookupsMissing, the tables a
	// profile view reads (byContact, byHandle, textBands and the facts'
	// texts) are built: ensureLookups then builds the rest.
	readLookups bool
	// lazyAsks counts the questions answered from the saved bytes (a
	// redirect, a profile's links, who uses an identifier, templates):
	// past lazyAsksBeforeBuild the maps and tables are built instead.
	lazyAsks int
	// savedTexts and savedHasText are the saved facts' body texts, kept
	// by the first pass over them (eachSavedFact) while lookupsMissing.
	savedTexts   []uint64
	savedHasText []bool

	// work counts band probes and candidate hashes compared, for the
	// benchmark to show that the work per ad does not grow with the ads.
	work workCount
}

// facts are what one ad offers for linking.
type facts struct {
	posted   time.Time
	name     string
	contacts []string // phones, emails, payment handles
	photos   []photo
	text     uint64
	hasText  bool
	// social are its social handles, files the SHA-256 of its image files:
	// kept so that a loaded linker rebuilds byHandle and byFile.
	social []string
	files  []string
}

// postings maps a key (an image file, a handle, a contact) to the ads
// that carry it, in the order they were added: a key of one ad, which
// most are, without a slice of its own.
type postings struct {
	one  map[string]int32
	many map[string][]int32
}

func newPostings() postings { return postings{one: map[string]int32{}, many: map[string][]int32{}} }

func (p *postings) add(k string, ad int32) {
	if first, ok := p.one[k]; ok {
		delete(p.one, k)
		p.many[k] = []int32{first, ad}
	} else if ads, ok := p.many[k]; ok {
		p.many[k] = append(ads, ad)
	} else {
		p.one[k] = ad
	}
}

// first returns the first ad carrying k, if one does.
func (p *postings) first(k string) (int32, bool) {
	if ad, ok := p.one[k]; ok {
		return ad, true
	}
	if ads := p.many[k]; len(ads) > 0 {
		return ads[0], true
	}
	return 0, false
}

// get returns the ads carrying k. The slice is not to be changed.
func (p *postings) get(k string) []int32 {
	if ad, ok := p.one[k]; ok {
		return []int32{ad}
	}
	return p.many[k]
}

// photoRef is where one stored photo's hashes are: its plain hash in
// plainBands, and its crop variants, one after the other, in variantBands.
type photoRef struct{ plain, crops, ncrops uint32 }

// photo returns the hashes of a stored photo, its crops copied: the
// bands' hashes move as they grow.
func (l *linkState) photo(r photoRef) photo {
	p := photo{plain: l.plainBands.hashes.s[r.plain]}
	if r.ncrops > 0 {
		p.crops = slices.Clone(l.variantBands.hashes.s[r.crops : r.crops+r.ncrops])
	}
	return p
}

// storePhoto adds p to the bands as ad i's and returns where it is.
func (l *linkState) storePhoto(p photo, i int32) photoRef {
	r := photoRef{uint32(l.plainBands.len()), uint32(l.variantBands.len()), uint32(len(p.crops))}
	l.plainBands.add(p.plain, i)
	for _, c := range p.crops {
		l.variantBands.add(c, i)
	}
	return r
}

// factsAt returns the facts of ad i as factsOf gave them.
func (l *linkState) factsAt(i int32) facts {
	v := l.facts.at(i)
	f := facts{posted: v.posted(), name: v.name(), contacts: v.contacts(), text: v.text, hasText: v.hasText, social: v.social(), files: v.files()}
	if refs := v.photoRefs(); len(refs) > 0 {
		f.photos = make([]photo, len(refs))
		for k, r := range refs {
			f.photos[k] = l.photo(r)
		}
	}
	return f
}

// known returns where s is kept already, as an image file, social handle
// or contact of an earlier ad: a string many ads share is kept once.
func (l *linkState) known(s string) (strRef, bool) {
	for _, p := range [3]*postings{&l.byFile, &l.byContact, &l.byHandle} {
		o, ok := p.first(s)
		if !ok {
			continue
		}
		v := l.facts.at(o)
		for k := uint32(1); k < 1+v.nContacts+v.nSocial+v.nFiles; k++ {
			if ref := l.facts.refs.s[v.strs+k]; l.facts.bytes.get(ref) == s {
				return ref, true
			}
		}
	}
	return strRef{}, false
}

// textThreshold is the largest SimHash distance of near-duplicate texts.
const textThreshold = 8

// NewLinker returns an empty Linker.
func NewLinker(phashThreshold, maxProfilesPerLink int) *Linker {
	l := &Linker{linkState: linkState{
		threshold: phashThreshold, maxLink: maxProfilesPerLink,
		index: map[string]int32{}, members: map[int32][]int32{}, label: map[int32]int32{}, links: map[int32][]edge{},
		byFile: newPostings(), byHandle: newPostings(), byContact: newPostings(),
		redirects: map[string]string{}, fresh: map[string]string{}, byProfile: map[string]int32{},
		nlabel: map[int32]int32{}, reps: map[string][]int32{}, capped: map[string]bool{},
	}}
	for i := range l.textBands {
		l.textBands[i] = map[uint16][]int32{}
	}
	// The look-ups nearPhotos asks of each table, for their layout.
	variantBound := phashThreshold - variantMargin
	l.plainBands.bounds = []lookupLoad{{phashThreshold, 1}, {variantBound, 9}}
	l.variantBands.bounds = []lookupLoad{{variantBound, 1}}
	return l
}

func normName(n string) string { return strings.ToLower(strings.Join(strings.Fields(n), " ")) }

// conflict reports ads that cannot be one person on photo evidence alone:
// both have phones and names, and share neither.
func (l *Linker) conflict(a, b int32) bool {
	fa, fb := l.facts.at(a), l.facts.at(b)
	if fa.nContacts == 0 || fb.nContacts == 0 {
		return false
	}
	if na, nb := fa.name(), fb.name(); na == "" || nb == "" || na == nb {
		return false
	}
	for k := range fa.nContacts {
		c := fa.contact(k)
		for j := range fb.nContacts {
			if c == fb.contact(j) {
				return false
			}
		}
	}
	return true
}

// Add links a and returns the ads whose profile id changed (a among them).
// Adding an ad twice changes nothing. An ad added again with other facts
// (an edited ad) is relinked at once: what it says now links it too, and
// what it said before still does.
func (l *Linker) Add(a *record.Ad) []string { return l.addFacts(a, factsOf(a)) }

// addFacts is Add with the ad's facts (factsOf) computed beforehand.
func (l *Linker) addFacts(a *record.Ad, f facts) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	changed := map[int32]bool{}
	l.ensureLookups()
	i, known := l.indexMap()[a.ID]
	var old facts
	if known {
		old = l.factsAt(i)
		f = mergeFacts(old, f)
	} else {
		i = int32(len(l.ids))
		l.ids = append(l.ids, a.ID)
		l.indexMap()[a.ID] = i
		l.facts.grow(0, 0)
		l.sets.add(i)
		l.memberMap()[i] = []int32{i}
		l.label[i] = i
		if l.byProfile != nil {
			l.byProfile[profileID(a.ID)] = i
		}
		l.nsets.add(i)
		l.nsize = append(l.nsize, 1)
		l.nlabel[i] = i
		changed[i] = true
	}
	l.facts.set(i, f.posted, f.text, f.hasText, f.name, f.contacts, f.social, f.files, l.known)
	l.newest = i
	// The ad's strings as the table keeps them, for the look-up tables
	// to hold: an ad's own copies are not kept.
	kept := l.facts.at(i)
	f.contacts, f.social, f.files = kept.contacts(), kept.social(), kept.files()

	// Social handles: person-level.
	for _, h := range f.social[len(old.social):] {
		for _, o := range l.byHandle.get(h) {
			l.union(i, o, "handle", h, changed)
		}
		l.byHandle.add(h, i)
	}
	// Contacts: with the same name, or with near-duplicate text when
	// neither ad names someone else (an edited ad's earlier contacts too:
	// its name or text may be new).
	for k, c := range f.contacts {
		for _, o := range l.byContact.get(c) {
			if o == i {
				continue
			}
			of := l.facts.at(o)
			oname := of.name()
			switch {
			case f.name != "" && f.name == oname:
				l.union(i, o, "contact and name", c, changed)
			case f.hasText && of.hasText && (f.name == "" || oname == "" || f.name == oname) &&
				hamming(f.text, of.text) <= textThreshold:
				l.union(i, o, "contact and text", c, changed)
			}
		}
		if k >= len(old.contacts) {
			l.byContact.add(c, i)
		}
	}
	// Photos.
	for _, sha := range f.files[len(old.files):] {
		for _, o := range l.byFile.get(sha) {
			if !l.conflict(i, o) {
				l.union(i, o, "same image file", sha, changed)
			}
		}
		l.byFile.add(sha, i)
	}
	for _, p := range f.photos[len(old.photos):] {
		for _, o := range l.nearPhotos(p) {
			if o != i && !l.conflict(i, o) {
				l.union(i, o, "near-duplicate photo", hexHash(p.plain), changed)
			}
		}
		l.facts.addPhoto(i, l.storePhoto(p, i))
	}
	if f.hasText && (!old.hasText || old.text != f.text) {
		for b := range l.textBands {
			k := uint16(f.text >> (16 * b))
			l.textBands[b][k] = append(l.textBands[b][k], i)
		}
	}
	// Networks, once the ad's profile is settled.
	for k, c := range f.contacts {
		if k >= len(old.contacts) && !slices.Contains(f.contacts[:k], c) {
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

// factsOf returns what an ad offers for linking. What earlier versions of
// the ad said links it too (after a restart the ad comes back as its last
// version, carrying the others).
func factsOf(a *record.Ad) facts {
	f := facts{posted: a.PostedAt, name: normName(a.Poster)}
	f.contacts = append(f.contacts, a.PhoneNumbers()...)
	handles := a.Handles
	for _, v := range a.Versions {
		for _, p := range v.Phones {
			if !slices.Contains(f.contacts, p) {
				f.contacts = append(f.contacts, p)
			}
		}
		for _, h := range v.Handles {
			if !slices.Contains(handles, h) {
				handles = append(slices.Clip(handles), h)
			}
		}
	}
	for _, h := range handles {
		if handle.Personal(h) {
			f.social = append(f.social, h)
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
		if img.SHA256 != "" && img.Error == "" && !slices.Contains(f.files, img.SHA256) {
			f.files = append(f.files, img.SHA256)
		}
	}
	return f
}

// mergeFacts returns the facts of an edited ad: its name and text as they
// are now, its first posting time (which orders the profile's ads), and
// every contact, handle, image file and photo it has offered, the earlier
// ones first (Add links only those after them).
func mergeFacts(old, now facts) facts {
	out := now
	out.posted = old.posted
	out.contacts = appendNew(slices.Clone(old.contacts), now.contacts)
	out.social = appendNew(slices.Clone(old.social), now.social)
	out.files = appendNew(slices.Clone(old.files), now.files)
	out.photos = slices.Clone(old.photos)
	for _, p := range now.photos {
		if !slices.ContainsFunc(out.photos, func(q photo) bool { return q.plain == p.plain }) {
			out.photos = append(out.photos, p)
		}
	}
	return out
}

// appendNew appends to list each of more it does not hold.
func appendNew(list, more []string) []string {
	for _, s := range more {
		if !slices.Contains(list, s) {
			list = append(list, s)
		}
	}
	return list
}
