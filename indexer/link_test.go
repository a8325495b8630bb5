package indexer

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/adwatch/adwatch/extractor/handle"
	"github.com/adwatch/adwatch/internal/record"
)

func testAds() []record.Ad {
	t0 := time.Date(2020, 10, 2, 0, 0, 0, 0, time.UTC)
	mk := func(id, phone, name, phash string, h int) record.Ad {
		a := record.Ad{ID: id, Poster: name, PostedAt: t0.Add(time.Duration(h) * time.Hour)}
		if phone != "" {
			a.Phones = []record.Phone{{E164: phone}}
		}
		if phash != "" {
			a.Images = []record.Image{{PHash: phash, SHA256: "sha-" + id}}
		}
		return a
	}
	return []record.Ad{
		mk("a1", "+15108730123", "Rosa", "f0f0f0f0f0f0f0f0", 1),
		mk("a2", "+15108730123", "Rosa", "", 2),                // same phone and name
		mk("a3", "", "", "f0f0f0f0f0f0f0f3", 3),                // near photo (2 bits)
		mk("b1", "+15108730123", "Mia", "0f0f0f0f0f0f0f0f", 4), // controller phone, other person
		mk("b2", "+14155526789", "Mia", "0f0f0f0f0f0f0f0e", 5), // near b1's photo
		mk("c1", "+19165550000", "Ivy", "123456789abcdef0", 6), // unrelated
	}
}

func TestLinkerProfilesAndNetworks(t *testing.T) {
	l := NewLinker(8, 25)
	for _, a := range testAds() {
		l.Add(&a)
	}
	p := l.Profile
	if p("a1") != p("a2") || p("a1") != p("a3") {
		t.Errorf("a1, a2, a3 should be one profile: %s %s %s", p("a1"), p("a2"), p("a3"))
	}
	if p("a1") == p("b1") {
		t.Error("a shared phone alone merged two persons")
	}
	if p("b1") != p("b2") || p("c1") == p("b1") {
		t.Error("b1 and b2 share a photo; c1 is unrelated")
	}
	if l.Network(p("a1")) != l.Network(p("b1")) || l.Network(p("a1")) == l.Network(p("c1")) {
		t.Error("the shared phone should join a and b into one network, without c")
	}
	if got := l.ProfilesOfPhone("+15108730123"); len(got) != 2 {
		t.Errorf("profiles of the shared phone: %v", got)
	}
}

func TestLinkerOrderIndependent(t *testing.T) {
	ads := testAds()
	want := map[string]string{}
	l := NewLinker(8, 25)
	for _, a := range ads {
		l.Add(&a)
	}
	for _, a := range ads {
		want[a.ID] = l.Profile(a.ID)
	}
	for seed := range 20 {
		r := rand.New(rand.NewPCG(uint64(seed), 1))
		perm := r.Perm(len(ads))
		l := NewLinker(8, 25)
		for _, i := range perm {
			l.Add(&ads[i])
			l.Add(&ads[i]) // idempotent
		}
		for _, a := range ads {
			if got := l.Profile(a.ID); got != want[a.ID] {
				t.Fatalf("order %v: %s in %s, want %s", perm, a.ID, got, want[a.ID])
			}
		}
	}
}

// BenchmarkLinkerAdd measures the cost of linking one more ad into a
// linker that already holds n ads, each with a phone, a name, a handle now
// and then, and a photo with its nine crop variants. It must stay flat as n
// grows: candidates come from look-ups, not scans. Each added ad also asks
// for its profile's network, as the indexer stage does.
func BenchmarkLinkerAdd(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("ads=%d", n), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 2))
			l := NewLinker(8, 25)
			persons := n / 3
			mk := func(i int) *record.Ad {
				p := r.IntN(persons)
				img := record.Image{PHash: fmt.Sprintf("%016x", uint64(p)*0x9e3779b97f4a7c15)}
				for k := range 9 {
					img.PHashCrops = append(img.PHashCrops, fmt.Sprintf("%016x", uint64(p*16+k+1)*0x9e3779b97f4a7c15))
				}
				a := &record.Ad{ID: fmt.Sprint(i), Poster: fmt.Sprint("name", p%500), PostedAt: time.Unix(int64(i), 0),
					Phones: []record.Phone{{E164: fmt.Sprintf("+1510%07d", p)}}, Images: []record.Image{img}}
				if p%7 == 0 {
					a.Handles = []string{fmt.Sprint("instagram:p", p)}
				}
				return a
			}
			for i := range n {
				l.Add(mk(i))
			}
			b.ReportAllocs()
			i := n
			before := l.work
			for b.Loop() {
				a := mk(i)
				l.Add(a)
				// What the indexer stage asks next, for the profile update.
				if l.Network(l.Profile(a.ID)) == "" {
					b.Fatal("no network")
				}
				i++
			}
			b.ReportMetric(float64(l.work.probes-before.probes)/float64(i-n), "probes/ad")
			b.ReportMetric(float64(l.work.candidates-before.candidates)/float64(i-n), "candidates/ad")
		})
	}
}

func TestLinkerEvidenceRules(t *testing.T) {
	t0 := time.Date(2020, 10, 2, 0, 0, 0, 0, time.UTC)
	mk := func(id string, h int, phone, name, phash, body string, handles ...string) *record.Ad {
		a := &record.Ad{ID: id, Poster: name, Body: body, PostedAt: t0.Add(time.Duration(h) * time.Hour), Handles: handles}
		if phone != "" {
			a.Phones = []record.Phone{{E164: phone}}
		}
		if phash != "" {
			a.Images = []record.Image{{PHash: phash}}
		}
		return a
	}
	template := "Hi gentlemen, sweet and discreet company, upscale incall only, screening required, text me anytime"
	for _, tc := range []struct {
		name string
		ads  []*record.Ad
		same bool
	}{
		{"stolen photo: different phones and names", []*record.Ad{
			mk("x1", 1, "+15108730123", "Rosa", "f0f0f0f0f0f0f0f0", ""),
			mk("x2", 2, "+14155526789", "Mia", "f0f0f0f0f0f0f0f1", "")}, false},
		{"same photos, new name, same phone", []*record.Ad{
			mk("x1", 1, "+15108730123", "Rosa", "f0f0f0f0f0f0f0f0", ""),
			mk("x2", 2, "+15108730123", "Mia", "f0f0f0f0f0f0f0f1", "")}, true},
		{"social handle", []*record.Ad{
			mk("x1", 1, "+15108730123", "Rosa", "", "", "instagram:rosa.b"),
			mk("x2", 2, "+14155526789", "Mia", "", "", "instagram:rosa.b")}, true},
		{"payment handle alone", []*record.Ad{
			mk("x1", 1, "", "Rosa", "", "", "cashapp:$boss"),
			mk("x2", 2, "", "Mia", "", "", "cashapp:$boss")}, false},
		{"phone and template, no names", []*record.Ad{
			mk("x1", 1, "+15108730123", "", "", template),
			mk("x2", 2, "+15108730123", "", "", template+" tonight")}, true},
		{"phone and template, different names", []*record.Ad{
			mk("x1", 1, "+15108730123", "Rosa", "", template),
			mk("x2", 2, "+15108730123", "Mia", "", template)}, false},
		{"phone alone", []*record.Ad{
			mk("x1", 1, "+15108730123", "Rosa", "", "one text entirely different from the other"),
			mk("x2", 2, "+15108730123", "", "", "nothing in common with the first ad at all here")}, false},
	} {
		l := NewLinker(8, 25)
		for _, a := range tc.ads {
			l.Add(a)
		}
		if got := l.Profile("x1") == l.Profile("x2"); got != tc.same {
			t.Errorf("%s: same profile = %v, want %v", tc.name, got, tc.same)
		}
		if got := l.Network(l.Profile("x1")) == l.Network(l.Profile("x2")); !got && len(tc.ads[0].Phones)+len(tc.ads[0].Handles) > 0 &&
			(tc.name == "stolen photo: different phones and names") == false {
			t.Errorf("%s: ads sharing a contact should share a network", tc.name)
		}
	}
}

func TestLinkerRedirectsAndEvidence(t *testing.T) {
	t0 := time.Date(2020, 10, 2, 0, 0, 0, 0, time.UTC)
	l := NewLinker(8, 25)
	late := &record.Ad{ID: "late", Poster: "Rosa", PostedAt: t0.Add(5 * time.Hour), Phones: []record.Phone{{E164: "+15108730123"}}}
	early := &record.Ad{ID: "early", Poster: "Rosa", PostedAt: t0, Phones: []record.Phone{{E164: "+15108730123"}}}
	l.Add(late)
	before := l.Profile("late")
	l.Add(early)
	after := l.Profile("late")
	if before == after || after != l.Profile("early") {
		t.Fatalf("profile ids: before %s, after %s", before, after)
	}
	if l.Resolve(before) != after {
		t.Errorf("old id %s resolves to %s, want %s", before, l.Resolve(before), after)
	}
	if m := l.Members(before); len(m) != 2 {
		t.Errorf("members through the old id: %v", m)
	}
	links := l.Links(after)
	if len(links) != 1 || links[0].Evidence != "contact and name" {
		t.Errorf("evidence: %+v", links)
	}
}

// TestOtherEvidenceKept: a saved state naming an evidence this version
// does not know (written by a later one) reads back with it, shows it in
// Links, and is written again as it was.
func TestOtherEvidenceKept(t *testing.T) {
	t0 := time.Date(2020, 10, 2, 0, 0, 0, 0, time.UTC)
	l := NewLinker(8, goldenMaxLink)
	for i, id := range []string{"a", "b", "c"} {
		l.Add(&record.Ad{ID: id, Poster: "Rosa", PostedAt: t0.Add(time.Duration(i) * time.Hour), Phones: []record.Phone{{E164: "+15108730123"}}})
	}
	p := l.Profile("a")
	l.mu.Lock()
	for _, edges := range l.linkMap() {
		edges[0].ev = l.evidenceIndex("same voice")
	}
	l.mu.Unlock()
	data := encodeLinker(l)
	m := decodeLinker(t, data)
	var got []string
	for _, k := range m.Links(p) {
		got = append(got, k.Evidence)
	}
	if !slices.Equal(got, []string{"same voice", "contact and name"}) {
		t.Fatalf("evidence read back: %q", got)
	}
	// Its profiles' part (the links are there) is written again the same.
	core := func(data []byte) []byte {
		d := &decoder{b: data}
		return d.bytes()
	}
	if again := encodeLinker(m); !bytes.Equal(core(again), core(data)) {
		t.Fatal("the state read back is written otherwise")
	}
}

func TestCappedContacts(t *testing.T) {
	l := NewLinker(8, 3)
	for i := range 5 {
		l.Add(&record.Ad{ID: fmt.Sprint(i), Poster: fmt.Sprint("name", i), Phones: []record.Phone{{E164: "+18005550100"}}})
	}
	if c := l.Capped(); len(c) != 1 || c[0] != "+18005550100" {
		t.Errorf("capped = %v", c)
	}
	if l.Network(l.Profile("0")) == l.Network(l.Profile("1")) {
		t.Error("a capped phone still joined a network")
	}
}

func TestRedirectsSurviveReopen(t *testing.T) {
	dir := t.TempDir()
	old, survivor := mergeTwo(t, dir)
	x, err := Open(dir, 8, 25, true)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if got := x.Linker.Resolve(old); got != survivor || old == survivor {
		t.Errorf("after reopening, %s resolves to %s, want %s", old, got, survivor)
	}
	if v, ok, err := x.Profile(old); err != nil || !ok || v.ID != survivor || len(v.Ads) != 2 {
		t.Errorf("profile through the old id: %+v %v %v", v.ID, ok, err)
	}
}

// referenceNetworks is the definition of networks, computed from scratch:
// profiles joined by every contact that links at most maxLink of them.
func referenceNetworks(l *Linker, ads []record.Ad, maxLink int) (map[string]string, []string) {
	profilesOf := map[string]map[string]bool{}
	for _, a := range ads {
		for _, c := range append(a.PhoneNumbers(), a.Handles...) {
			if handle.Personal(c) {
				continue
			}
			if profilesOf[c] == nil {
				profilesOf[c] = map[string]bool{}
			}
			profilesOf[c][l.Profile(a.ID)] = true
		}
	}
	parent := map[string]string{}
	var find func(string) string
	find = func(p string) string {
		if parent[p] == "" || parent[p] == p {
			parent[p] = p
			return p
		}
		parent[p] = find(parent[p])
		return parent[p]
	}
	var capped []string
	for c, ps := range profilesOf {
		if len(ps) > maxLink {
			capped = append(capped, c)
			continue
		}
		var first string
		for p := range ps {
			if first == "" {
				first = p
				continue
			}
			parent[find(p)] = find(first)
		}
	}
	out := map[string]string{}
	for _, a := range ads {
		out[a.ID] = find(l.Profile(a.ID))
	}
	slices.Sort(capped)
	return out, capped
}

// TestNetworksMatchDefinition checks the incremental networks against the
// definition on random worlds with shared phones, agency lines that cross
// the cap, and later ads that merge earlier profiles, in random orders:
// the same partition, the same capped contacts and the same network ids.
func TestNetworksMatchDefinition(t *testing.T) {
	t0 := time.Date(2020, 10, 2, 0, 0, 0, 0, time.UTC)
	const maxLink = 3
	for world := range 30 {
		r := rand.New(rand.NewPCG(uint64(world), 7))
		var ads []record.Ad
		for i := range 40 + r.IntN(40) {
			a := record.Ad{ID: fmt.Sprintf("w%d-%d", world, i), Poster: fmt.Sprint("name", r.IntN(8)), PostedAt: t0.Add(time.Duration(r.IntN(500)) * time.Hour)}
			for range 1 + r.IntN(2) {
				a.Phones = append(a.Phones, record.Phone{E164: fmt.Sprintf("+1510555%04d", r.IntN(14))})
			}
			if r.IntN(3) == 0 {
				a.Handles = append(a.Handles, fmt.Sprint("cashapp:$c", r.IntN(5)))
			}
			if r.IntN(2) == 0 {
				a.Images = []record.Image{{PHash: fmt.Sprintf("%016x", uint64(r.IntN(10))*0x9e3779b97f4a7c15)}}
			}
			ads = append(ads, a)
		}
		var wantIDs map[string]string
		for order := range 4 {
			perm := rand.New(rand.NewPCG(uint64(world), uint64(order))).Perm(len(ads))
			l := NewLinker(8, maxLink)
			for k, i := range perm {
				l.Add(&ads[i])
				if k%7 == 0 { // queries between adds settle the networks early
					l.Network(l.Profile(ads[i].ID))
				}
			}
			ref, refCapped := referenceNetworks(l, ads, maxLink)
			if diff := cmp.Diff(refCapped, l.Capped(), cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("world %d order %d: capped (-want +got):\n%s", world, order, diff)
			}
			ids := map[string]string{}
			for _, a := range ads {
				ids[a.ID] = l.Network(l.Profile(a.ID))
			}
			for _, a := range ads {
				for _, b := range ads {
					if (ref[a.ID] == ref[b.ID]) != (ids[a.ID] == ids[b.ID]) {
						t.Fatalf("world %d order %d: %s and %s together=%v, definition says %v",
							world, order, a.ID, b.ID, ids[a.ID] == ids[b.ID], ref[a.ID] == ref[b.ID])
					}
				}
			}
			if wantIDs == nil {
				wantIDs = ids
			} else if diff := cmp.Diff(wantIDs, ids); diff != "" {
				t.Fatalf("world %d: network ids depend on the order (-first order +this one):\n%s", world, diff)
			}
		}
	}
}
