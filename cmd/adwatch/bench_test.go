package main

import (
	"bytes"
	"io"
	"regexp"
	"strings"
	"testing"
)

// TestBenchTable: adwatch bench, at a tiny size, prints one Markdown table
// with a row for every figure of docs/performance.md.
func TestBenchTable(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the simulated world, hashes its photos and indexes ads")
	}
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(io.Discard)
	root.SetArgs([]string{"--config", "../../configs/adwatch.yaml", "bench", "--ads", "300", "--photo-time", "50ms"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	table := out.String()
	for _, row := range []string{"| decode + hash", "goimagehash", "| text-only extraction |", "| generate", "| indexing (adwatch reindex) |",
		"| index size on disk |", "| search,", "| phone look-up,", "| linking an ad |", "| resident memory, peak |"} {
		if !strings.Contains(table, row) {
			t.Errorf("no %q in\n%s", row, table)
		}
	}
	// Every look-up is of a number an indexed ad carries.
	if m := regexp.MustCompile(`(\d+) look-ups, (\d+) found`).FindStringSubmatch(table); m == nil || m[1] != m[2] || m[1] == "0" {
		t.Errorf("phone look-ups that miss: %v", m)
	}
	if n := strings.Count("\n"+table, "\n| "); n != 11 {
		t.Errorf("%d table lines, want a header, its rule and 9 rows:\n%s", n, table)
	}
}
