//go:build !linux

package indexer

// makeLarge returns a []uint32 of length 0 and capacity n: on Linux the
// kernel is asked for huge pages for it.
func makeLarge(n int) []uint32 { return make([]uint32, 0, n) }
