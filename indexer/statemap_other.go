//go:build !linux

package indexer

import (
	"fmt"
	"os"
)

// mapState reads the state file at path (mapped into memory on Linux).
func mapState(path string) (data []byte, unmap func() error, drop func(), err error) {
	data, err = os.ReadFile(path)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("reading linker state: %w", err)
	}
	return data, func() error { return nil }, func() {}, nil
}
