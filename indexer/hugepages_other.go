//go:build !linux

package indexer

// bigArray is a []uint32 for the photo band tables: on Linux the large
// ones live outside Go's heap, in huge pages where the kernel gives them.
type bigArray struct{ s []uint32 }

func newBigArray(n int) *bigArray { return &bigArray{s: make([]uint32, n)} }

// release does nothing: the garbage collector frees the array.
func (a *bigArray) release() {}

// column is an append-only array of the photo tables' hashes or their
// ads, by seq, or of the linker's facts; on Linux the large ones live
// outside Go's heap, so T must hold no pointers.
type column[T any] struct{ s []T }

func (c *column[T]) append(v T) { c.s = append(c.s, v) }

// release empties the column.
func (c *column[T]) release() { c.s = nil }
