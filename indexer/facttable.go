package indexer

import (
	"slices"
	"time"
	"unsafe"
)

// factTable is what the linker keeps of each ad's facts: its posting time,
// body text hash, poster name, contacts, social handles, image files and
// photos. At a million ads a struct per ad with a slice of strings and a
// slice of photos took 200 MB of the heap, with three pointers an ad for
// the collector to follow, and the collector keeps as much again free
// beside what is live. So an ad is a row of fixed size without pointers,
// and the rows, the references to its strings and its photos are columns
// outside the heap where they are large (column); the strings' bytes are
// in chunks of the heap, one object a megabyte rather than one a string,
// and a string two ads share (an image file, a phone) is kept once.
type factTable struct {
	rows   column[factRow]
	refs   column[strRef]
	photos column[photoRef]
	bytes  strArena
}

// factRow is one ad's facts in a factTable. Its strings are refs
// [strs, strs+1+nContacts+nSocial+nFiles): the poster name, then the
// contacts, the social handles and the image files; its photos are
// photos [photos, photos+nPhotos).
type factRow struct {
	sec                        int64 // posted, in Unix seconds
	text                       uint64
	nsec                       int32 // posted's nanoseconds
	strs, photos               uint32
	nContacts, nSocial, nFiles uint32
	nPhotos                    uint32
	hasText                    bool
}

// strRef is where a string's bytes are in a strArena.
type strRef struct{ chunk, off, n uint32 }

// strArena holds strings' bytes in chunks that never move: a string read
// from it refers to its chunk, which the collector keeps for it.
type strArena struct{ chunks [][]byte }

// arenaChunk is the size of a strArena's chunks.
const arenaChunk = 1 << 20

// add copies s into the arena.
func (a *strArena) add(s string) strRef {
	if len(s) == 0 {
		return strRef{}
	}
	last := len(a.chunks) - 1
	if last < 0 || cap(a.chunks[last])-len(a.chunks[last]) < len(s) {
		a.chunks = append(a.chunks, make([]byte, 0, max(arenaChunk, len(s))))
		last++
	}
	c := a.chunks[last]
	a.chunks[last] = append(c, s...)
	return strRef{chunk: uint32(last), off: uint32(len(c)), n: uint32(len(s))}
}

// get returns the string r refers to.
func (a *strArena) get(r strRef) string {
	if r.n == 0 {
		return ""
	}
	return unsafe.String(&a.chunks[r.chunk][r.off], int(r.n))
}

// len returns the number of ads in the table.
func (t *factTable) len() int { return len(t.rows.s) }

// grow adds an ad without facts, posted at sec and nsec (Unix time).
func (t *factTable) grow(sec int64, nsec int32) {
	if len(t.refs.s) == 0 {
		t.refs.append(strRef{}) // the name of every ad not set: empty
	}
	t.rows.append(factRow{sec: sec, nsec: nsec, photos: uint32(len(t.photos.s))})
}

// factView is one ad's facts read from a factTable. Its strings stay
// valid; it is not to be used once the table has changed.
type factView struct {
	t *factTable
	factRow
}

// at returns ad i's facts.
func (t *factTable) at(i int32) factView { return factView{t, t.rows.s[i]} }

func (v factView) posted() time.Time { return time.Unix(v.sec, int64(v.nsec)).UTC() }

// before reports whether v was posted before w.
func (v factView) before(w factView) bool {
	return v.sec < w.sec || v.sec == w.sec && v.nsec < w.nsec
}

// samePosting reports whether v and w were posted at the same time.
func (v factView) samePosting(w factView) bool { return v.sec == w.sec && v.nsec == w.nsec }

func (v factView) str(k uint32) string { return v.t.bytes.get(v.t.refs.s[v.strs+k]) }
func (v factView) name() string        { return v.str(0) }

// contact returns the k-th contact.
func (v factView) contact(k uint32) string { return v.str(1 + k) }

// strList returns n strings from the k-th.
func (v factView) strList(k, n uint32) []string {
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for j := range n {
		out[j] = v.str(k + j)
	}
	return out
}

func (v factView) contacts() []string { return v.strList(1, v.nContacts) }
func (v factView) social() []string   { return v.strList(1+v.nContacts, v.nSocial) }
func (v factView) files() []string    { return v.strList(1+v.nContacts+v.nSocial, v.nFiles) }

// photoRefs returns where the ad's photos are, copied.
func (v factView) photoRefs() []photoRef {
	return slices.Clone(v.t.photos.s[v.photos : v.photos+v.nPhotos])
}

// set replaces ad i's posting time, text, name, contacts, social handles
// and image files; its photos stay. known returns where an equal string
// is kept already, if it is. The refs of what an edited ad said before
// stay in the table unused until the next load.
func (t *factTable) set(i int32, posted time.Time, text uint64, hasText bool, name string, contacts, social, files []string, known func(s string) (strRef, bool)) {
	// The row changes once its strings are in: known may read it, as
	// it was, meanwhile (an edited ad holds some of its strings already).
	start := uint32(len(t.refs.s))
	t.refs.append(t.bytes.add(name))
	for _, list := range [3][]string{contacts, social, files} {
		for _, s := range list {
			ref, ok := known(s)
			if !ok {
				ref = t.bytes.add(s)
			}
			t.refs.append(ref)
		}
	}
	r := &t.rows.s[i]
	r.sec, r.nsec = posted.Unix(), int32(posted.Nanosecond())
	r.text, r.hasText = text, hasText
	r.strs = start
	r.nContacts, r.nSocial, r.nFiles = uint32(len(contacts)), uint32(len(social)), uint32(len(files))
}

// setText sets ad i's body text hash.
func (t *factTable) setText(i int32, text uint64) {
	t.rows.s[i].text, t.rows.s[i].hasText = text, true
}

// addPhoto adds a photo to ad i's: an ad's photos are consecutive, so
// those of an ad not the last to have one added are moved to the end
// first.
func (t *factTable) addPhoto(i int32, p photoRef) {
	r := t.rows.s[i]
	if end := r.photos + r.nPhotos; r.nPhotos > 0 && int(end) != len(t.photos.s) {
		for k := r.photos; k < end; k++ {
			t.photos.append(t.photos.s[k])
		}
		r.photos = uint32(len(t.photos.s)) - r.nPhotos
	} else if r.nPhotos == 0 {
		r.photos = uint32(len(t.photos.s))
	}
	t.photos.append(p)
	r.nPhotos++
	t.rows.s[i] = r
}
