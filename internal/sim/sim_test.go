package sim

import (
	"bytes"
	"image/jpeg"
	"testing"
	"time"

	"github.com/adwatch/adwatch/extractor/imagehash"
)

func TestAlamedaScenarioCounts(t *testing.T) {
	w, err := Generate(1, "alameda")
	if err != nil {
		t.Fatal(err)
	}
	loc, _ := time.LoadLocation("America/Los_Angeles")
	for _, tc := range []struct {
		day          string
		ads, persons int
	}{{"2019-10-04", 999, 666}, {"2020-10-02", 1165, 750}} {
		from, _ := time.ParseInLocation("2006-01-02", tc.day, loc)
		to := from.AddDate(0, 0, 1)
		ads, persons := 0, map[int]bool{}
		for _, a := range w.Ads {
			if a.City == "Oakland" && !a.PostedAt.Before(from) && a.PostedAt.Before(to) {
				ads++
				persons[a.Person] = true
			}
		}
		if ads != tc.ads || len(persons) != tc.persons {
			t.Errorf("%s: got %d ads from %d persons, want %d from %d", tc.day, ads, len(persons), tc.ads, tc.persons)
		}
	}
}

// Distinct photos must be far apart and re-encodings near, or the world
// cannot be linked from its photos.
func TestPhotosDistinctAndStable(t *testing.T) {
	w, err := Generate(1, "alameda")
	if err != nil {
		t.Fatal(err)
	}
	n := 0 // every photo the world shows
	for _, p := range w.Persons {
		for _, ph := range append(p.Photos, p.NewPhotos...) {
			n = max(n, ph+1)
		}
	}
	hashes := make([]uint64, n)
	for i := range hashes {
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, Picture(1, i), &jpeg.Options{Quality: 90}); err != nil {
			t.Fatal(err)
		}
		r, err := imagehash.Hash(buf.Bytes(), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		hashes[i] = r.PHash
		if i < 50 {
			buf.Reset()
			_ = jpeg.Encode(&buf, Picture(1, i), &jpeg.Options{Quality: 60})
			r2, _ := imagehash.Hash(buf.Bytes(), 1<<20)
			if d := imagehash.Distance(r.PHash, r2.PHash); d > 4 {
				t.Errorf("photo %d: re-encoding moved the hash by %d", i, d)
			}
		}
	}
	minD := 64
	for i := range hashes {
		for j := i + 1; j < n; j++ {
			minD = min(minD, imagehash.Distance(hashes[i], hashes[j]))
		}
	}
	t.Logf("closest distinct photos: %d bits", minD)
	if minD <= 8 {
		t.Errorf("closest distinct photos are %d bits apart, want more than the linking threshold of 8", minD)
	}
}
