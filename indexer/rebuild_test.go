package indexer

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/adwatch/adwatch/internal/bus"
	"github.com/adwatch/adwatch/internal/bus/bustest"
	"github.com/adwatch/adwatch/internal/record"
)

// TestRebuildAnswersLikeTheOld: an index rebuilt from the ads stream
// answers exactly like the one built ad by ad as they arrived: the same
// ads, profiles, networks, searches and counts; progress reaches the end.
func TestRebuildAnswersLikeTheOld(t *testing.T) {
	b := bustest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	old, err := Open(t.TempDir(), 8, 25, false)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	at := time.Date(2020, 10, 2, 8, 0, 0, 0, time.UTC)
	var ads []record.Ad
	for i := range 90 {
		a := record.Ad{ID: fmt.Sprintf("s:%03d", i), Site: "s", City: []string{"Oakland", "San Jose", "Fresno"}[i%3],
			Title: fmt.Sprintf("ad %d", i), Body: fmt.Sprintf("friendly person %d", i%7), PostedAt: at.Add(time.Duration(i) * time.Hour),
			PageSHA256: fmt.Sprint(i), Phones: []record.Phone{{E164: fmt.Sprintf("+1510873%04d", i%23)}}}
		if i%10 == 0 {
			a.Handles = []string{fmt.Sprintf("instagram:person%d", i%4)}
		}
		ads = append(ads, a)
		data, _ := json.Marshal(a)
		if _, err := b.JS.Publish(ctx, bus.SubjectAds+".s", data); err != nil {
			t.Fatal(err)
		}
		// The old index took them in small batches as they came.
		if i%7 == 6 || i == 89 {
			if _, err := old.Put(ads[len(ads)-1-i%7:]); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := b.JS.Publish(ctx, bus.SubjectAds+".s", []byte("not an ad")); err != nil {
		t.Fatal(err)
	}
	rebuilt, err := Open(t.TempDir(), 8, 25, false)
	if err != nil {
		t.Fatal(err)
	}
	defer rebuilt.Close()
	var lastRead, lastTotal uint64
	n, bad, err := Rebuild(ctx, b.JS, rebuilt, func(read, total uint64) { lastRead, lastTotal = read, total })
	if err != nil || n != 90 || bad != 1 || lastRead != 91 || lastTotal != 91 {
		t.Fatalf("Rebuild: %d ads, %d bad, progress %d/%d, %v", n, bad, lastRead, lastTotal, err)
	}
	if got := rebuilt.Unpublished(); len(got) != 0 {
		t.Errorf("a rebuild left %d ads to publish", len(got))
	}
	for _, a := range ads {
		if po, pr := old.Linker.Profile(a.ID), rebuilt.Linker.Profile(a.ID); po != pr {
			t.Errorf("%s: profile %s, rebuilt %s", a.ID, po, pr)
		}
		if no, nr := old.Linker.Network(old.Linker.Profile(a.ID)), rebuilt.Linker.Network(rebuilt.Linker.Profile(a.ID)); no != nr {
			t.Errorf("%s: network %s, rebuilt %s", a.ID, no, nr)
		}
		go1, _, _ := old.Get(a.ID)
		gr, _, _ := rebuilt.Get(a.ID)
		x, _ := json.Marshal(go1)
		y, _ := json.Marshal(gr)
		if string(x) != string(y) {
			t.Errorf("%s: %s, rebuilt %s", a.ID, x, y)
		}
	}
	hits := func(x *Index) []string {
		h, err := x.SearchPhones([]string{"+15108730005"}, 100)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, hit := range h {
			ids = append(ids, hit.ID)
		}
		slices.Sort(ids)
		return ids
	}
	if o, r := hits(old), hits(rebuilt); !slices.Equal(o, r) || len(o) == 0 {
		t.Errorf("phone search: %v, rebuilt %v", o, r)
	}
	co, _ := old.Count()
	cr, _ := rebuilt.Count()
	if co != cr || co != 90 {
		t.Errorf("counts %d, rebuilt %d", co, cr)
	}
}
