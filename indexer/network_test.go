package indexer

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestNetworkAndProfileShared(t *testing.T) {
	idx, err := Open(t.TempDir(), 8, 25, false)
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	ads := testAds()
	ads[0].Ages = []int{19}
	ads[1].Ages = []int{21}
	for i := range ads {
		ads[i].PageSHA256 = ads[i].ID
	}
	if _, err := idx.Put(ads); err != nil {
		t.Fatal(err)
	}
	pa := idx.Linker.Profile("a1")
	nid := idx.Linker.Network(pa)
	// b2 (hour 5) is within the last 30 days; b1 (hour 4) and a1..a3 are not.
	now := ads[4].PostedAt.AddDate(0, 0, 30).Add(-30 * time.Minute)
	v, ok, err := idx.Network(nid, now)
	if err != nil || !ok {
		t.Fatalf("network %s: %v %v", nid, ok, err)
	}
	if len(v.Profiles) != 2 || v.Size.Profiles != 2 || v.Size.Ads != 5 {
		t.Errorf("network members: %+v size %+v", v.Profiles, v.Size)
	}
	if v.Size.ProfilesLast30Days != 1 || v.Size.AdsLast30Days != 1 {
		t.Errorf("last 30 days: %+v, want 1 profile, 1 ad", v.Size)
	}
	var shared *Identifier
	for i := range v.Identifiers {
		if v.Identifiers[i].Value == "+15108730123" {
			shared = &v.Identifiers[i]
		}
	}
	if shared == nil || len(shared.Profiles) != 2 || shared.AllProfiles != 2 || shared.Kind != "phone" {
		t.Errorf("shared phone: %+v in %+v", shared, v.Identifiers)
	}
	if _, ok, _ := idx.Network("Nnope", now); ok {
		t.Errorf("an unknown network was found")
	}

	pv, ok, err := idx.Profile(pa)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if d := cmp.Diff([]SharedIdentifier{{"+15108730123", 1}}, pv.Shared); d != "" {
		t.Errorf("phone_profiles (-want +got):\n%s", d)
	}
	want := []StatedAge{{"2020-10-02", 19, "a1"}, {"2020-10-02", 21, "a2"}}
	if d := cmp.Diff(want, pv.StatedAges); d != "" {
		t.Errorf("stated ages (-want +got):\n%s", d)
	}
}
