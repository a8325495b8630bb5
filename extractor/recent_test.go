package extractor

import (
	"fmt"
	"testing"

	"github.com/adwatch/adwatch/internal/record"
)

// TestRecentHashes: the recent image hashes give back what was put, each
// caller its own crop hashes, keep at most recentImages, and keep an
// image looked up lately over one put before it.
func TestRecentHashes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		puts  int // images 0..puts-1 put in order
		touch int // image looked up after the first half is put (-1: none)
		want  []int
		gone  []int
	}{
		{name: "few", puts: 10, touch: -1, want: []int{0, 5, 9}},
		{name: "over the bound", puts: recentImages + 1, touch: -1,
			want: []int{recentImages, recentImages / 2}, gone: []int{0, recentImages/2 - 1}},
		{name: "looked up lately", puts: recentImages + 1, touch: 3,
			want: []int{3, recentImages}, gone: []int{4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r recentHashes
			sha := func(i int) string { return fmt.Sprintf("%064x", i) }
			for i := range tc.puts {
				r.put(sha(i), record.Image{SHA256: sha(i), PHash: fmt.Sprintf("%016x", i), PHashCrops: []string{"a", "b"}})
				if i == recentImages/2 && tc.touch >= 0 {
					if _, ok := r.get(sha(tc.touch)); !ok {
						t.Fatalf("image %d gone after %d puts", tc.touch, i+1)
					}
				}
			}
			if n := len(r.cur) + len(r.prev); n > recentImages {
				t.Errorf("%d images kept, want at most %d", n, recentImages)
			}
			for _, i := range tc.want {
				img, ok := r.get(sha(i))
				if !ok || img.PHash != fmt.Sprintf("%016x", i) {
					t.Errorf("image %d: %+v, %v", i, img, ok)
					continue
				}
				img.PHashCrops[0] = "changed"
				if again, _ := r.get(sha(i)); again.PHashCrops[0] != "a" {
					t.Errorf("image %d: a caller's change reached the cache: %v", i, again.PHashCrops)
				}
			}
			for _, i := range tc.gone {
				if _, ok := r.get(sha(i)); ok {
					t.Errorf("image %d still kept", i)
				}
			}
		})
	}
}
