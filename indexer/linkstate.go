package indexer

import (
	"maps"
	"slices"
	"unsafe"
)

// The linker's state is saved in three parts: the core, which answers
// which profile and network an ad is in (what the read commands ask);
// the facts and contacts that link a new ad, from which the look-up
// tables are rebuilt on first use; and the index's pages (state.go).

// evidences are the Link.Evidence values, written as their position.
var evidences = []string{"handle", "contact and name", "contact and text", "same image file", "near-duplicate photo"}

// encodeCore writes what says which profile and network each ad is in.
// The caller holds l.mu, with the networks settled.
func (l *Linker) encodeCore(e *encoder) {
	n := len(l.ids)
	e.uint(uint64(n))
	e.each(l.ids)
	for i := range int32(n) {
		v := l.facts.at(i)
		e.int(v.sec)
		e.uint(uint64(v.nsec))
	}
	for _, p := range l.sets.parent {
		e.uint(uint64(p))
	}
	roots := slices.Sorted(maps.Keys(l.label))
	e.uint(uint64(len(roots)))
	for _, r := range roots {
		e.uint(uint64(r))
		e.uint(uint64(l.label[r]))
		links := l.linkMap()[r]
		e.uint(uint64(len(links)))
		for _, k := range links {
			e.uint(uint64(k.a))
			e.uint(uint64(k.b))
			if int(k.ev) < len(evidences) {
				e.uint(uint64(k.ev) + 1)
			} else {
				e.uint(0)
				e.str(l.evidenceName(k.ev))
			}
			e.str(k.detail)
		}
	}
	for _, m := range [2]map[string]string{l.redirectMap(), l.fresh} {
		keys := slices.Sorted(maps.Keys(m))
		e.uint(uint64(len(keys)))
		for _, k := range keys {
			e.str(k)
			e.str(m[k])
		}
	}
	for i := range n {
		e.uint(uint64(l.nsets.parent[i]))
		e.uint(uint64(l.nsize[i]))
	}
	nroots := slices.Sorted(maps.Keys(l.nlabel))
	e.uint(uint64(len(nroots)))
	for _, r := range nroots {
		e.uint(uint64(r))
		e.uint(uint64(l.nlabel[r]))
	}
	e.strs(slices.Sorted(maps.Keys(l.capped)))
	e.bool(l.netStale)
	e.bool(l.bridged)
	e.uint(uint64(max(l.newest, 0)))
}

// decodeCore reads what encodeCore wrote into an empty linker.
func (l *Linker) decodeCore(d *decoder) {
	n := d.count(2)
	l.ids = make([]string, n)
	for i := range l.ids {
		l.ids[i] = d.str()
	}
	l.index = nil // built when first asked (indexMap)
	l.facts = factTable{}
	for range n {
		sec, ns := d.int(), d.uint()
		if ns >= 1e9 {
			d.fail()
		}
		l.facts.grow(sec, int32(ns))
	}
	l.sets.parent = make([]int32, n)
	for i := range l.sets.parent {
		l.sets.parent[i] = d.ad(n)
	}
	// The profiles' labels now; their links (the evidence a profile view
	// shows) checked, and decoded when first asked (linkMap).
	rootsAt := d.b
	roots := d.count(3)
	l.label = make(map[int32]int32, roots)
	l.byProfile = nil // built when first asked (profileRoots)
	for range roots {
		r, lab := d.ad(n), d.ad(n)
		l.label[r] = lab
		decodeLinks(d, n, nil)
	}
	l.links, l.lazyLinks = nil, rootsAt[:len(rootsAt)-len(d.b)]
	// The redirects are checked and kept encoded until first asked.
	start := d.b
	for range d.count(2) {
		d.bytes()
		d.bytes()
	}
	l.redirects, l.lazyRedirects = nil, start[:len(start)-len(d.b)]
	c := d.count(2)
	l.fresh = make(map[string]string, c)
	for range c {
		k := d.str()
		l.fresh[k] = d.str()
	}
	l.nsets.parent = make([]int32, n)
	l.nsize = make([]int32, n)
	for i := range n {
		l.nsets.parent[i] = d.ad(n)
		l.nsize[i] = int32(d.uint())
	}
	nroots := d.count(2)
	l.nlabel = make(map[int32]int32, nroots)
	for range nroots {
		r := d.ad(n)
		l.nlabel[r] = d.ad(n)
	}
	for _, c := range d.strs() {
		l.capped[c] = true
	}
	l.netStale, l.bridged = d.bool(), d.bool()
	if n > 0 {
		l.newest = d.ad(n)
	} else {
		d.uint()
	}
	if d.err != nil {
		return
	}
	// Both union-finds must be trees: a cycle of parents would never
	// reach a root.
	if !l.sets.forest() || !l.nsets.forest() {
		d.fail()
		return
	}
	// Each root of the union-find is a label's, and each label's is a
	// root; the members of each profile follow, when first asked
	// (memberMap).
	l.members = nil
	rootsSeen := 0
	for i := range int32(n) {
		if l.sets.parent[i] != i {
			continue
		}
		if _, ok := l.label[i]; !ok {
			d.fail()
			return
		}
		rootsSeen++
	}
	if rootsSeen != len(l.label) {
		d.fail()
	}
}

// memberMap is l.members, the ads of each component root, built from the
// union-find when first asked after a load. The caller holds l.mu.
func (l *Linker) memberMap() map[int32][]int32 {
	if l.members == nil {
		l.members = make(map[int32][]int32, len(l.label))
		for i := range int32(len(l.ids)) {
			r := l.find(i)
			l.members[r] = append(l.members[r], i)
		}
	}
	return l.members
}

// encodeFacts writes what links new ads: each ad's facts, and the
// contacts' representatives.
func (l *Linker) encodeFacts(e *encoder) {
	for i := range int32(l.facts.len()) {
		f := l.facts.at(i)
		e.str(f.name())
		k := uint32(1)
		for _, n := range [3]uint32{f.nContacts, f.nSocial, f.nFiles} {
			e.uint(uint64(n))
			for range n {
				e.str(f.str(k))
				k++
			}
		}
		e.uint(uint64(f.nPhotos))
		for _, r := range f.photoRefs() {
			p := l.photo(r)
			e.word(p.plain)
			e.uint(uint64(len(p.crops)))
			for _, c := range p.crops {
				e.word(c)
			}
		}
		e.bool(f.hasText)
		if f.hasText {
			e.word(f.text)
		}
	}
	keys := slices.Sorted(maps.Keys(l.reps))
	e.uint(uint64(len(keys)))
	for _, k := range keys {
		e.str(k)
		e.ints(l.reps[k])
	}
}

// decodeFacts reads what encodeFacts wrote into the linker's facts, their
// photos into the bands, and each ad into the look-up tables as adding
// the ads in order did (those ensureReadLookups built already excepted);
// or, with into false, only checks that it parses.
func (l *Linker) decodeFacts(d *decoder, into bool) {
	n := len(l.ids)
	// The strings are read in place: the table copies them.
	strs := func(out []string) []string {
		out = out[:0]
		for range d.count(1) {
			out = append(out, viewString(d.bytes()))
		}
		return out
	}
	var contacts, social, files []string
	var photos []photo
	for i := range int32(n) {
		name := d.bytes()
		contacts, social, files = strs(contacts), strs(social), strs(files)
		photos = photos[:0]
		for range d.count(8) {
			p := photo{plain: d.word()}
			if nc := d.count(8); nc > 0 {
				p.crops = make([]uint64, nc)
				for j := range p.crops {
					p.crops[j] = d.word()
				}
			}
			photos = append(photos, p)
		}
		var text uint64
		hasText := d.bool()
		if hasText {
			text = d.word()
		}
		if !into || d.err != nil {
			continue
		}
		l.facts.set(i, l.facts.at(i).posted(), text, hasText, viewString(name), contacts, social, files, l.known)
		for _, p := range photos {
			l.facts.addPhoto(i, l.storePhoto(p, i))
		}
		l.addLookups(i)
	}
	for range d.count(2) {
		k := d.bytes()
		v := d.ads(n)
		if into {
			key := string(k)
			if ref, ok := l.known(viewString(k)); ok {
				key = l.facts.bytes.get(ref)
			}
			l.reps[key] = v
		}
	}
}

// viewString is b as a string without a copy: b must not change while the
// string is used.
func viewString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// addLookups adds loaded ad i to the look-up tables, but for those
// ensureReadLookups built already (l.readLookups).
func (l *Linker) addLookups(i int32) {
	v := l.facts.at(i)
	for _, sha := range v.files() {
		l.byFile.add(sha, i)
	}
	if l.readLookups {
		return
	}
	for _, h := range v.social() {
		l.byHandle.add(h, i)
	}
	for _, c := range v.contacts() {
		l.byContact.add(c, i)
	}
	if v.hasText {
		for b := range l.textBands {
			k := uint16(v.text >> (16 * b))
			l.textBands[b][k] = append(l.textBands[b][k], i)
		}
	}
}

// ensureLookups builds the look-up tables of a loaded linker from its
// saved facts (decodeFacts), as adding its ads in order built them. The
// caller holds l.mu.
func (l *Linker) ensureLookups() {
	if !l.lookupsMissing {
		return
	}
	l.lookupsMissing = false
	d := &decoder{b: l.lazyFacts}
	l.lazyFacts, l.savedTexts, l.savedHasText = nil, nil, nil
	l.plainBands.loading, l.variantBands.loading = true, true
	l.decodeFacts(d, true)
	l.plainBands.endLoad()
	l.variantBands.endLoad()
	l.readLookups = false
}

// decodeLinks reads one profile's links as encodeCore wrote them, for a
// linker of n ads; with l nil it only checks them.
func decodeLinks(d *decoder, n int, l *Linker) []edge {
	c := d.count(4)
	if c == 0 {
		return nil
	}
	var links []edge
	if l != nil {
		links = make([]edge, c)
	}
	for k := range c {
		a, b := d.ad(n), d.ad(n)
		var ev uint8
		var other []byte
		switch e := d.uint(); {
		case e == 0:
			other = d.bytes()
		case e <= uint64(len(evidences)):
			ev = uint8(e - 1)
		default:
			d.fail()
		}
		detail := d.bytes()
		if l != nil && d.err == nil {
			if other != nil {
				ev = l.evidenceIndex(string(other))
			}
			links[k] = edge{a: a, b: b, ev: ev, detail: string(detail)}
		}
	}
	return links
}

// linkMap is l.links, decoded from the saved state when first asked
// after a load (decodeCore checked it). The caller holds l.mu.
func (l *Linker) linkMap() map[int32][]edge {
	if l.links == nil {
		d := &decoder{b: l.lazyLinks}
		n := len(l.ids)
		roots := d.count(3)
		l.links = make(map[int32][]edge, roots)
		for range roots {
			r := d.ad(n)
			d.ad(n)
			if links := decodeLinks(d, n, l); len(links) > 0 {
				l.links[r] = links
			}
		}
		l.lazyLinks = nil
	}
	return l.links
}

// ensureReadLookups builds, of a loaded linker's look-up tables, those a
// profile view reads: contacts, social handles and near-duplicate texts,
// without the photos' bands (seconds at a million ads), which only
// linking a new ad and a photo search need. The caller holds l.mu.
func (l *Linker) ensureReadLookups() {
	if !l.lookupsMissing || l.readLookups {
		return
	}
	l.readLookups = true
	d := &decoder{b: l.lazyFacts}
	each := func(add func(string)) {
		for range d.count(1) {
			if b := d.bytes(); add != nil && d.err == nil {
				add(string(b))
			}
		}
	}
	for i := range int32(len(l.ids)) {
		d.bytes() // the name
		each(func(c string) { l.byContact.add(c, i) })
		each(func(h string) { l.byHandle.add(h, i) })
		each(nil) // the files
		for range d.count(8) {
			d.word()
			for range d.count(8) {
				d.word()
			}
		}
		if d.bool() {
			text := d.word()
			l.facts.setText(i, text)
			for b := range l.textBands {
				k := uint16(text >> (16 * b))
				l.textBands[b][k] = append(l.textBands[b][k], i)
			}
		}
	}
}

// eachSavedFact calls fn with each ad's contacts, social handles and body
// text as saved, in one pass over the saved facts and without building
// the look-up tables: what a read-only profile view needs of a million
// ads in a fraction of a second. The byte slices are valid during the
// call only. The caller holds l.mu; l.lookupsMissing is true.
func (l *Linker) eachSavedFact(fn func(i int32, contacts, social [][]byte, text uint64, hasText bool)) {
	keep := l.savedTexts == nil
	if keep {
		l.savedTexts, l.savedHasText = make([]uint64, len(l.ids)), make([]bool, len(l.ids))
	}
	d := &decoder{b: l.lazyFacts}
	var contacts, social [][]byte
	list := func(into [][]byte) [][]byte {
		into = into[:0]
		for range d.count(1) {
			into = append(into, d.bytes())
		}
		return into
	}
	for i := range int32(len(l.ids)) {
		d.bytes() // the name
		contacts, social = list(contacts), list(social)
		for range d.count(1) { // the files
			d.bytes()
		}
		for range d.count(8) {
			d.word()
			for range d.count(8) {
				d.word()
			}
		}
		var text uint64
		hasText := d.bool()
		if hasText {
			text = d.word()
		}
		if d.err != nil {
			return
		}
		if keep {
			l.savedTexts[i], l.savedHasText[i] = text, hasText
		}
		fn(i, contacts, social, text, hasText)
	}
}

// linksOf is the links of component r. Before the links are decoded
// (linkMap) it decodes only r's: a read command asks a profile or two.
// The caller holds l.mu.
func (l *Linker) linksOf(r int32) []Link {
	if l.lazyAsks++; l.links != nil || l.lazyAsks > lazyAsksBeforeBuild {
		return l.asLinks(l.linkMap()[r])
	}
	d := &decoder{b: l.lazyLinks}
	n := len(l.ids)
	for range d.count(3) {
		root := d.ad(n)
		d.ad(n)
		if root == r {
			return l.asLinks(decodeLinks(d, n, l))
		}
		decodeLinks(d, n, nil)
	}
	return nil
}

// asLinks returns edges as the Links they are.
func (l *linkState) asLinks(edges []edge) []Link {
	if len(edges) == 0 {
		return nil
	}
	out := make([]Link, len(edges))
	for k, e := range edges {
		out[k] = Link{A: l.ids[e.a], B: l.ids[e.b], Evidence: l.evidenceName(e.ev), Detail: e.detail}
	}
	return out
}

// holdsEncoded reports whether parts of a loaded state are not decoded
// yet: they are read from the state file's mapping.
func (l *Linker) holdsEncoded() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lazyFacts != nil || l.lazyRedirects != nil || l.lazyLinks != nil
}

// dropEncoded forgets the parts of a loaded state not decoded yet (the
// file they were read from is closing): the linker then answers as if they
// were empty.
func (l *Linker) dropEncoded() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lazyFacts, l.lazyRedirects, l.lazyLinks = nil, nil, nil
}

// indexMap is l.index, each ad's position, built when first asked after a
// load: a profile view does not ask it. The caller holds l.mu.
func (l *Linker) indexMap() map[string]int32 {
	if l.index == nil {
		l.index = make(map[string]int32, len(l.ids))
		for i, id := range l.ids {
			l.index[id] = int32(i)
		}
	}
	return l.index
}

// lazyAsksBeforeBuild is how many questions a loaded linker answers by
// reading its saved bytes (a fraction of a second each at a million ads)
// before it builds what answers them at once: a read command asks a
// handful; an export or a serving process asks on and on.
const lazyAsksBeforeBuild = 16
