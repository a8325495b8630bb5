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
	s       []uint32
	mem     []byte // the mapping; nil on the heap or once released
	cleanup runtime.Cleanup
}

func newBigArray(n int) *bigArray {
	if n*4 < 2*hugePage {
		return &bigArray{s: make([]uint32, n)}
	}
	// A huge page backs only an aligned 2 MB of the mapping: one huge
	// page more is mapped, and the array starts at the first boundary
	// (the pages before it are never touched, so never resident).
	size := (n*4 + hugePage - 1) &^ (hugePage - 1)
	mem, err := syscall.Mmap(-1, 0, size+hugePage, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return &bigArray{s: make([]uint32, n)}
	}
	skip := int(-uintptr(unsafe.Pointer(unsafe.SliceData(mem))) & (hugePage - 1))
	aligned := mem[skip : skip+size]
	_ = syscall.Madvise(aligned, madvHugepage) // only advice: none taken, no harm
	a := &bigArray{s: unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(aligned))), n), mem: mem}
	a.cleanup = runtime.AddCleanup(a, func(m []byte) { _ = syscall.Munmap(m) }, mem)
	return a
}

// release returns a mapped array's memory to the kernel now; nothing read
// from it may be used after. It does nothing to a nil or heap array.
func (a *bigArray) release() {
	if a == nil || a.mem == nil {
		return
	}
	a.cleanup.Stop()
	_ = syscall.Munmap(a.mem)
	a.mem, a.s = nil, nil
}

// madvHugepage is MADV_HUGEPAGE (linux/mman.h), which package syscall
// does not name.
const madvHugepage = 14
