package indexer

import (
	"fmt"
	"io"
	"os"
	"syscall"
)

// mapState maps the state file at path read-only into memory: a read-only
// index reads its state without copying hundreds of megabytes (a fifth
// of a second at a million ads). unmap releases it; nothing read from
// data may be used after.
//
// drop gives the mapped pages back: they leave the process's resident
// memory and are read again (from the page cache, or the file) when next
// touched; for a file read into the heap it does nothing.
func mapState(path string) (data []byte, unmap func() error, drop func(), err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("reading linker state: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("reading linker state: %w", err)
	}
	if st.Size() == 0 {
		return nil, func() error { return nil }, func() {}, nil
	}
	data, err = syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_SHARED|syscall.MAP_POPULATE)
	if err != nil {
		// A file system that cannot map files: read it.
		if data, err = io.ReadAll(f); err != nil {
			return nil, nil, nil, fmt.Errorf("reading linker state: %w", err)
		}
		return data, func() error { return nil }, func() {}, nil
	}
	drop = func() { _ = syscall.Madvise(data, syscall.MADV_DONTNEED) }
	return data, func() error { return syscall.Munmap(data) }, drop, nil
}
