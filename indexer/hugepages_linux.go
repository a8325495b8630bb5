package indexer

import (
	"syscall"
	"unsafe"
)

// hugePage is the size of a transparent huge page on the machines adwatch
// runs on (x86-64 and arm64 with 4 kB base pages).
const hugePage = 2 << 20

// makeLarge returns a []uint32 of length 0 and capacity n for an array
// read at random (the photo band tables: hundreds of megabytes at a
// million ads). Where transparent huge pages are enabled for the asking
// ("madvise", the usual default), it asks for them: a look-up touches a
// few hundred places in these arrays, and in 4 kB pages nearly each is a
// TLB miss as well as a cache miss (at 1M ads a photo's look-ups took a
// fifth less time). Nothing changes where they are off or the kernel
// refuses: the advice is only advice.
func makeLarge(n int) []uint32 {
	s := make([]uint32, 0, n)
	if n*4 < 2*hugePage {
		return s
	}
	base := unsafe.Pointer(unsafe.SliceData(s[:1]))
	start := uintptr(base)
	end := start + uintptr(n)*4
	lo := (start + hugePage - 1) &^ (hugePage - 1)
	hi := end &^ (hugePage - 1)
	if hi > lo {
		// The runtime hands a large allocation fresh from the kernel
		// untouched, so the advice applies before its first page fault.
		mem := unsafe.Slice((*byte)(unsafe.Add(base, lo-start)), hi-lo)
		_ = syscall.Madvise(mem, madvHugepage)
	}
	return s
}

// madvHugepage is MADV_HUGEPAGE (linux/mman.h), which package syscall
// does not name.
const madvHugepage = 14
