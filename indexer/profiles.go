package indexer

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"math"
	"slices"
	"sort"
)

// Link is one piece of evidence that joined two ads into one profile.
type Link struct {
	A        string `json:"a"`
	B        string `json:"b"`
	Evidence string `json:"evidence"`
	Detail   string `json:"detail,omitempty"`
}

func (l *Linker) find(i int32) int32 { return l.sets.find(i) }

func (l *Linker) earlier(a, b int32) bool {
	fa, fb := l.facts.at(a), l.facts.at(b)
	if !fa.samePosting(fb) {
		return fa.before(fb)
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
	members := l.memberMap()
	if len(members[ra]) < len(members[rb]) {
		ra, rb = rb, ra
	}
	la, lb := l.label[ra], l.label[rb]
	winner, loser, moved := la, lb, members[rb]
	if l.earlier(lb, la) {
		winner, loser, moved = lb, la, members[ra]
	}
	for _, m := range moved {
		changed[m] = true
	}
	if !l.singleNewest(ra) && !l.singleNewest(rb) {
		l.bridged = true
	}
	l.nunion(a, b)
	if l.byProfile != nil {
		delete(l.byProfile, profileID(l.ids[loser]))
		l.byProfile[profileID(l.ids[winner])] = ra
	}
	l.redirectMap()[profileID(l.ids[loser])] = profileID(l.ids[winner])
	l.fresh[profileID(l.ids[loser])] = profileID(l.ids[winner])
	l.sets.attach(rb, ra)
	members[ra] = append(members[ra], members[rb]...)
	links := l.linkMap()
	links[ra] = append(append(links[ra], links[rb]...), edge{a: a, b: b, ev: l.evidenceIndex(evidence), detail: detail})
	delete(members, rb)
	delete(l.label, rb)
	delete(links, rb)
	l.label[ra] = winner
}

// edge is a Link as the linker keeps it: its ads by index and its
// evidence by its place in evidences (then otherEvidence), in half a
// Link's bytes.
type edge struct {
	detail string
	a, b   int32
	ev     uint8
}

// evidenceIndex returns the edge.ev of an evidence.
func (l *linkState) evidenceIndex(evidence string) uint8 {
	if k := slices.Index(evidences, evidence); k >= 0 {
		return uint8(k)
	}
	k := slices.Index(l.otherEvidence, evidence)
	if k < 0 {
		if len(evidences)+len(l.otherEvidence) > math.MaxUint8 {
			return uint8(len(evidences) + len(l.otherEvidence) - 1) // past any real state
		}
		k = len(l.otherEvidence)
		l.otherEvidence = append(l.otherEvidence, evidence)
	}
	return uint8(len(evidences) + k)
}

// evidenceName returns the evidence of an edge.ev.
func (l *linkState) evidenceName(ev uint8) string {
	if int(ev) < len(evidences) {
		return evidences[ev]
	}
	return l.otherEvidence[int(ev)-len(evidences)]
}

// singleNewest reports whether the component of root is only the ad
// being added.
func (l *Linker) singleNewest(root int32) bool {
	m := l.memberMap()[root]
	return len(m) == 1 && m[0] == l.newest
}

// Profile returns the profile id of an ad, or "" for an unknown ad.
func (l *Linker) Profile(adID string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	i, ok := l.indexMap()[adID]
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

// root returns the component of a current profile id. The caller holds
// l.mu.
func (l *Linker) root(profile string) (int32, bool) {
	r, ok := l.profileRoots()[profile]
	return r, ok
}

// profileRoots is byProfile, built from the components' labels when a
// loaded linker is first asked by profile id. The caller holds l.mu.
func (l *Linker) profileRoots() map[string]int32 {
	if l.byProfile == nil {
		l.byProfile = make(map[string]int32, len(l.label))
		for r, lab := range l.label {
			l.byProfile[profileID(l.ids[lab])] = r
		}
	}
	return l.byProfile
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
		for _, m := range l.memberMap()[r] {
			out = append(out, l.ids[m])
		}
	})
	sort.Strings(out)
	return out
}

// Links returns the evidence that joined a profile's ads.
func (l *Linker) Links(profile string) []Link {
	var out []Link
	l.withProfile(profile, func(r int32) { out = append(out, l.linksOf(r)...) })
	return out
}

// Templates returns the other profiles whose ads share a near-duplicate
// body text with this profile's: the "same template" relation.
func (l *Linker) Templates(profile string) []string {
	set := map[string]bool{}
	l.withProfile(profile, func(r int32) {
		if l.lazyAsks++; l.lookupsMissing && !l.readLookups && l.lazyAsks <= lazyAsksBeforeBuild {
			l.savedTemplates(r, set)
			return
		}
		l.ensureReadLookups()
		for _, m := range l.memberMap()[r] {
			f := l.facts.at(m)
			if !f.hasText {
				continue
			}
			for b := range l.textBands {
				forEachWithin(uint32(uint16(f.text>>(16*b))), 16, textThreshold/len(l.textBands), func(v uint32) {
					for _, o := range l.textBands[b][uint16(v)] {
						if l.find(o) != r && hamming(f.text, l.facts.at(o).text) <= textThreshold {
							set[l.profile(o)] = true
						}
					}
				})
			}
		}
	})
	return sortedKeys(set)
}

// sortedKeys returns the keys of a set in order, never nil: an empty set
// is [] in JSON, not null.
func sortedKeys(m map[string]bool) []string {
	out := slices.AppendSeq(make([]string, 0, len(m)), maps.Keys(m))
	slices.Sort(out)
	return out
}

// savedTemplates adds to set the templates of component r (Templates) of
// a linker loaded from its saved state: every saved text compared with
// the members', in one pass, rather than the text bands built. A pair
// within textThreshold is found either way (the bands are probed within
// textThreshold/4 each: one band of four is that close). The caller holds
// l.mu.
func (l *Linker) savedTemplates(r int32, set map[string]bool) {
	if l.savedTexts == nil {
		l.eachSavedFact(func(int32, [][]byte, [][]byte, uint64, bool) {})
	}
	texts, has := l.savedTexts, l.savedHasText
	var mine []uint64
	for _, m := range l.memberMap()[r] {
		if has[m] {
			mine = append(mine, texts[m])
		}
	}
	if len(mine) == 0 {
		return
	}
	for o := range int32(len(texts)) {
		if !has[o] {
			continue
		}
		for _, t := range mine {
			if hamming(t, texts[o]) <= textThreshold && l.find(o) != r {
				set[l.profile(o)] = true
				break
			}
		}
	}
}
