package indexer

import (
	"runtime"
	"syscall"
	"unsafe"
)

// hugePage is the size of a transparent huge page on the machines adwatch
// runs on (x86-64 and arm64 with 4 kB base pages).
const hugePage = 2 << 20

// bigArray is a []uint32 for the photo band tables, which are hundreds of
// megabytes at a million ads, read at random and made anew at each merge.
// One of 4 MB or more lives outside Go's heap, in memory mapped for it
// alone: a merge returns the old arrays to the kernel at once (release)
// rather than leaving them to the garbage collector, whose cycles they
// would bring on (a tenth of linking's time at 1M ads), and the kernel is
// asked for huge pages for it where transparent huge pages are enabled for
// the asking ("madvise", the usual default): a look-up touches a few
// hundred places in these arrays, and in 4 kB pages nearly each is a TLB
// miss as well as a cache miss (a fifth of a photo's look-up time at 1M
// ads). An array nothing refers to any more is unmapped by a cleanup.
// Smaller ones are on the heap. The memory is zero when made.
type bigArray struct {
	s []uint32
	m *offHeap // nil on the heap or once released
}

func newBigArray(n int) *bigArray {
	if n*4 < 2*hugePage {
		return &bigArray{s: make([]uint32, n)}
	}
	m, mem, err := newOffHeap(n * 4)
	if err != nil {
		return &bigArray{s: make([]uint32, n)}
	}
	return &bigArray{s: unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(mem))), n), m: m}
}

// release returns a mapped array's memory to the kernel now; nothing read
// from it may be used after. It does nothing to a nil or heap array.
func (a *bigArray) release() {
	if a == nil || a.m == nil {
		return
	}
	a.m.release()
	a.m, a.s = nil, nil
}

// offHeap is memory mapped for one array alone, outside Go's heap, with
// huge pages asked for; unmapped by release, or by a cleanup once nothing
// refers to it.
type offHeap struct {
	mem     []byte // the whole mapping
	cleanup runtime.Cleanup
}

// newOffHeap maps size bytes of zeroed memory and returns them from the
// mapping's first 2 MB boundary. A huge page backs only an aligned 2 MB of
// the mapping: one huge page more is mapped, and the array starts at the
// first boundary (the pages before it are never touched, so never
// resident, nor are those past what is written).
func newOffHeap(size int) (*offHeap, []byte, error) {
	size = (size + hugePage - 1) &^ (hugePage - 1)
	mem, err := syscall.Mmap(-1, 0, size+hugePage, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return nil, nil, err
	}
	skip := int(-uintptr(unsafe.Pointer(unsafe.SliceData(mem))) & (hugePage - 1))
	aligned := mem[skip : skip+size]
	_ = syscall.Madvise(aligned, madvHugepage) // only advice: none taken, no harm
	m := &offHeap{mem: mem}
	m.cleanup = runtime.AddCleanup(m, func(mem []byte) { _ = syscall.Munmap(mem) }, mem)
	return m, aligned, nil
}

func (m *offHeap) release() {
	m.cleanup.Stop()
	_ = syscall.Munmap(m.mem)
}

// column is an append-only array of the photo tables' hashes or their
// ads, by seq, or of the linker's facts (factTable): tens of millions of
// values at a million ads. T must hold no pointers: the collector does
// not see what the column holds. Past 4 MB it lives outside Go's heap, in a mapping
// that doubles when full (the old one unmapped at once, the pages past
// what is written never resident): the collector sizes its next cycle's
// heap by twice what is live, so every byte of it on the heap would cost
// a byte more of headroom, and the hashes are read at random, where huge
// pages spare TLB misses. What s holds is not to be kept across an
// append: a larger column moves.
type column[T any] struct {
	s []T
	m *offHeap // nil: s is on the heap
}

func (c *column[T]) append(v T) {
	if len(c.s) < cap(c.s) {
		c.s = append(c.s, v)
		return
	}
	var zero T
	n := 2 * cap(c.s)
	if size := n * int(unsafe.Sizeof(zero)); size >= 2*hugePage {
		if m, mem, err := newOffHeap(size); err == nil {
			s := unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(mem))), n)[:len(c.s)]
			copy(s, c.s)
			c.release()
			c.s, c.m = append(s, v), m
			return
		}
	}
	// On the heap, as small columns are (or where mapping failed), the
	// old mapping released.
	s := append(make([]T, 0, max(n, 1)), c.s...)
	c.release()
	c.s = append(s, v)
}

// release returns a mapped column's memory to the kernel now and empties
// it; nothing read from it may be used after.
func (c *column[T]) release() {
	if c.m != nil {
		c.m.release()
	}
	c.s, c.m = nil, nil
}

// madvHugepage is MADV_HUGEPAGE (linux/mman.h), which package syscall
// does not name.
const madvHugepage = 14
