package synth

import (
	"testing"

	"github.com/adwatch/adwatch/extractor/imagehash"
)

func distance(t *testing.T, a, b string) int {
	t.Helper()
	x, err := imagehash.ParseHex(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := imagehash.ParseHex(b)
	if err != nil {
		t.Fatal(err)
	}
	return imagehash.Distance(x, y)
}

// TestRoundsAreOtherPersons: a later round's ads are new ads of new
// persons (other ids, phones, handles and photos far from the first
// round's), while the photos of one round keep their distances to each
// other, so linking finds the same structure in every round.
func TestRoundsAreOtherPersons(t *testing.T) {
	g, err := New(1, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := g.Round()
	if n < 1000 {
		t.Fatalf("a round of %d ads", n)
	}
	ids := map[string]bool{}
	for i := range 3 * n {
		id := g.Ad(i).ID
		if ids[id] {
			t.Fatalf("ad %d repeats id %s", i, id)
		}
		ids[id] = true
	}
	var checked int
	for i := range n {
		a, b := g.Ad(i), g.Ad(n+i)
		if a.Title != b.Title || a.City != b.City {
			t.Fatalf("ad %d: round 1 is not the same ad text", i)
		}
		for j := range a.Phones {
			if a.Phones[j].E164 == b.Phones[j].E164 {
				t.Errorf("ad %d keeps phone %s in round 1", i, a.Phones[j].E164)
			}
		}
		for j := range a.Handles {
			if a.Handles[j] == b.Handles[j] {
				t.Errorf("ad %d keeps handle %s in round 1", i, a.Handles[j])
			}
		}
		if len(a.Images) < 2 {
			continue
		}
		checked++
		if d := distance(t, a.Images[0].PHash, b.Images[0].PHash); d < 12 {
			t.Errorf("ad %d: its round-1 photo is %d bits from round 0's", i, d)
		}
		d0 := distance(t, a.Images[0].PHash, a.Images[1].PHash)
		d1 := distance(t, b.Images[0].PHash, b.Images[1].PHash)
		if d0 != d1 {
			t.Errorf("ad %d: its two photos are %d bits apart in round 0, %d in round 1", i, d0, d1)
		}
	}
	if checked == 0 {
		t.Fatal("no ad with two photos")
	}
}
