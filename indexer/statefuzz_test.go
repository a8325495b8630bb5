package indexer

import (
	"testing"
	"time"

	"github.com/adwatch/adwatch/internal/record"
)

// FuzzLinkerState reads arbitrary bytes as the linker's saved profiles
// and facts, as an open does once the file's checksum has passed: a file
// that does not parse is refused (and the index relinks), and one that
// does gives a linker that answers and links a new ad without a panic.
func FuzzLinkerState(f *testing.F) {
	t0 := time.Date(2020, 10, 2, 0, 0, 0, 0, time.UTC)
	l := NewLinker(8, goldenMaxLink)
	for i, a := range []record.Ad{
		{ID: "a", Poster: "Rosa", PostedAt: t0, Phones: []record.Phone{{E164: "+15108730123"}}, Body: "sweet and new in town",
			Images: []record.Image{{SHA256: "aa", PHash: "0123456789abcdef", PHashCrops: []string{"fedcba9876543210"}}}},
		{ID: "b", Poster: "rosa", PostedAt: t0.Add(time.Hour), Phones: []record.Phone{{E164: "+15108730123"}}, Handles: []string{"instagram:rosa"}},
		{ID: "c", PostedAt: t0.Add(-time.Hour), Handles: []string{"instagram:rosa", "cashapp:$r"}, Images: []record.Image{{SHA256: "aa"}}},
	} {
		l.Add(&a)
		if i == 1 {
			l.TakeRedirects()
		}
	}
	f.Add(encodeLinker(l))
	f.Add(encodeLinker(NewLinker(8, goldenMaxLink)))
	f.Fuzz(func(t *testing.T, data []byte) {
		m := NewLinker(8, goldenMaxLink)
		d := &decoder{b: data}
		core, facts := d.bytes(), d.bytes()
		if d.err != nil {
			return
		}
		cd := &decoder{b: core}
		m.decodeCore(cd)
		if cd.err != nil || len(cd.b) != 0 {
			return
		}
		fd := &decoder{b: facts}
		m.decodeFacts(fd, false)
		if fd.err != nil || len(fd.b) != 0 {
			return
		}
		m.lazyFacts, m.lookupsMissing = facts, true
		for _, id := range m.ids {
			p := m.Profile(id)
			m.Links(p)
			m.Members(p)
			m.Network(p)
		}
		m.Add(&record.Ad{ID: "new", Poster: "Rosa", PostedAt: t0, Phones: []record.Phone{{E164: "+15108730123"}}, Handles: []string{"instagram:rosa"},
			Images: []record.Image{{SHA256: "aa", PHash: "0123456789abcdef"}}})
		encodeLinker(m)
	})
}

// TestUnionFindForest: parents read from a file are accepted only when
// every element leads to a root.
func TestUnionFindForest(t *testing.T) {
	for _, tc := range []struct {
		name   string
		parent []int32
		want   bool
	}{
		{"empty", nil, true},
		{"roots", []int32{0, 1, 2}, true},
		{"a tree", []int32{0, 0, 1, 1, 3}, true},
		{"a chain down the indexes", []int32{1, 2, 3, 4, 4}, true},
		{"two trees", []int32{0, 0, 2, 2, 3}, true},
		{"a two-cycle", []int32{1, 0}, false},
		{"a cycle below a tree's elements", []int32{0, 0, 3, 4, 2}, false},
		{"a path into a cycle", []int32{1, 2, 3, 1}, false},
	} {
		u := unionFind{parent: tc.parent}
		if got := u.forest(); got != tc.want {
			t.Errorf("%s %v: forest %v, want %v", tc.name, tc.parent, got, tc.want)
		}
	}
}
