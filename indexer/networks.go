package indexer

import (
	"maps"
	"slices"
)

func (l *Linker) nfind(i int32) int32 { return l.nsets.find(i) }

// nunion joins the networks of ads a and b.
func (l *Linker) nunion(a, b int32) {
	ra, rb := l.nfind(a), l.nfind(b)
	if ra == rb {
		return
	}
	if l.nsize[ra] < l.nsize[rb] {
		ra, rb = rb, ra
	}
	l.nsets.attach(rb, ra)
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
	if l.bridged || l.netStale {
		l.ensureLookups()
	}
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
	l.nsets.reset()
	for i := range l.nsize {
		l.nsize[i] = 1
		l.nlabel[int32(i)] = int32(i)
	}
	for _, ms := range l.memberMap() {
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

// Network returns the network id of a profile: "N" and the id of the
// network's earliest profile; "" for an unknown profile.
func (l *Linker) Network(profile string) string {
	profile = l.Resolve(profile)
	l.mu.Lock()
	defer l.mu.Unlock()
	r, ok := l.profileRoots()[profile]
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
	l.ensureReadLookups()
	set := map[string]bool{}
	for _, i := range l.byContact.get(contact) {
		set[l.profile(i)] = true
	}
	return sortedKeys(set)
}

// ProfilesUsing returns the distinct profiles whose ads carry the
// identifier: a phone, email or payment handle, or a social handle.
func (l *Linker) ProfilesUsing(id string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ensureReadLookups()
	set := map[string]bool{}
	for _, i := range l.byContact.get(id) {
		set[l.profile(i)] = true
	}
	for _, i := range l.byHandle.get(id) {
		set[l.profile(i)] = true
	}
	return sortedKeys(set)
}

// Use is who carries an identifier: the profiles whose ads have it as a
// contact (phone, email or payment handle) and as a social handle.
type Use struct {
	Contact, Social []string
}

// Using returns, for each identifier, the profiles whose ads carry it
// (Use). A linker loaded from its saved state answers in one pass over the
// saved facts rather than building its look-up tables.
func (l *Linker) Using(ids []string) map[string]Use {
	l.mu.Lock()
	defer l.mu.Unlock()
	contact, social := map[string]map[string]bool{}, map[string]map[string]bool{}
	for _, id := range ids {
		contact[id], social[id] = map[string]bool{}, map[string]bool{}
	}
	if l.lazyAsks++; l.lookupsMissing && !l.readLookups && l.lazyAsks <= lazyAsksBeforeBuild {
		l.eachSavedFact(func(i int32, cs, ss [][]byte, _ uint64, _ bool) {
			for _, c := range cs {
				if set, ok := contact[string(c)]; ok {
					set[l.profile(i)] = true
				}
			}
			for _, s := range ss {
				if set, ok := social[string(s)]; ok {
					set[l.profile(i)] = true
				}
			}
		})
	} else {
		l.ensureReadLookups()
		for _, id := range ids {
			for _, i := range l.byContact.get(id) {
				contact[id][l.profile(i)] = true
			}
			for _, i := range l.byHandle.get(id) {
				social[id][l.profile(i)] = true
			}
		}
	}
	out := make(map[string]Use, len(ids))
	for _, id := range ids {
		out[id] = Use{Contact: sortedKeys(contact[id]), Social: sortedKeys(social[id])}
	}
	return out
}

// NetworkMembers returns the profiles of network id, in order; none for
// an unknown network. It looks at every profile once.
func (l *Linker) NetworkMembers(id string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.settleNetworks()
	out := []string{}
	for p, r := range l.profileRoots() {
		if l.networkOf(r) == id {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// IsCapped reports whether a contact links too many profiles to join
// networks.
func (l *Linker) IsCapped(contact string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.settleNetworks()
	return l.capped[contact]
}

// MaxProfilesPerLink is how many profiles a contact may link before it
// stops joining networks.
func (l *Linker) MaxProfilesPerLink() int { return l.maxLink }
