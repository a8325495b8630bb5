package indexer

import "testing"

// TestColumnLeavesTheHeap: past 4 MB a column is mapped outside the heap,
// below it not.
func TestColumnLeavesTheHeap(t *testing.T) {
	var c column[uint64]
	for i := range 1 << 18 {
		c.append(uint64(i))
	}
	if c.m != nil {
		t.Fatalf("2 MB of hashes mapped, want them on the heap")
	}
	for i := 1 << 18; i < 1<<20; i++ {
		c.append(uint64(i))
	}
	if c.m == nil {
		t.Fatalf("8 MB of hashes on the heap, want them mapped")
	}
	if c.s[1<<19] != 1<<19 {
		t.Fatalf("hash %d reads %d", 1<<19, c.s[1<<19])
	}
	c.release()
}
