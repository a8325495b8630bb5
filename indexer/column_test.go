package indexer

import "testing"

// TestColumn appends past the size at which a column leaves the heap
// (4 MB: half a million hashes, a million ads) and reads every value
// back, across each move to a larger mapping.
func TestColumn(t *testing.T) {
	for _, n := range []int{0, 1, 1000, 1 << 20, 3<<20 + 7} {
		var h column[uint64]
		var a column[int32]
		for i := range n {
			h.append(uint64(i) * 0x9e3779b97f4a7c15)
			a.append(int32(n - i))
		}
		if len(h.s) != n || len(a.s) != n {
			t.Fatalf("n=%d: %d hashes, %d ads", n, len(h.s), len(a.s))
		}
		for i := range n {
			if h.s[i] != uint64(i)*0x9e3779b97f4a7c15 || a.s[i] != int32(n-i) {
				t.Fatalf("n=%d: value %d is %x, %d", n, i, h.s[i], a.s[i])
			}
		}
		h.release()
		a.release()
		if len(h.s) != 0 || len(a.s) != 0 {
			t.Fatalf("n=%d: a released column holds %d, %d", n, len(h.s), len(a.s))
		}
	}
}
