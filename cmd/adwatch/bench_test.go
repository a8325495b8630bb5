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
	for _, row := range []string{"| decode + hash, 300x400", "| decode + hash on ", "goimagehash", "| text-only extraction |", "| generate", "| indexing (adwatch reindex) |",
		"| index size on disk |", "| search,", "| phone look-up,", "| linking an ad |", "| resident memory, peak |"} {
		if !strings.Contains(table, row) {
			t.Errorf("no %q in\n%s", row, table)
		}
	}
	// Every look-up is of a number an indexed ad carries.
	if m := regexp.MustCompile(`(\d+) look-ups, (\d+) found`).FindStringSubmatch(table); m == nil || m[1] != m[2] || m[1] == "0" {
		t.Errorf("phone look-ups that miss: %v", m)
	}
	if n := strings.Count("\n"+table, "\n| "); n != 12 {
		t.Errorf("%d table lines, want a header, its rule and 10 rows:\n%s", n, table)
	}
}

// TestBenchEndToEnd: adwatch bench --e2e, on the small simulated world,
// adds the end-to-end rows, and the plain chain and adwatch saw the same
// ads and photos.
func TestBenchEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("crawls the simulated site four times")
	}
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(io.Discard)
	root.SetArgs([]string{"--config", "../../configs/adwatch.yaml", "bench", "--ads", "100", "--photo-time", "10ms",
		"--e2e", "--e2e-scenario", "small", "--e2e-rounds", "1"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	table := out.String()
	ours := regexp.MustCompile(`\| end to end, photo-heavy: adwatch run --once \| .* \| (\d+) ads, (\d+) photos \((\d+) published, (\d+) downloaded`).FindStringSubmatch(table)
	theirs := regexp.MustCompile(`\| end to end, photo-heavy: plain libraries chained \| .* \| (\d+) ads, (\d+) photos \((\d+) distinct hashed, (\d+) failed\)`).FindStringSubmatch(table)
	if ours == nil || theirs == nil {
		t.Fatalf("no photo-heavy rows in\n%s", table)
	}
	if ours[1] != theirs[1] || ours[1] != ours[3] || ours[1] == "0" {
		t.Errorf("ads: adwatch %s (published %s), plain chain %s", ours[1], ours[3], theirs[1])
	}
	if ours[2] != theirs[2] || ours[2] != ours[4] || ours[2] == "0" || theirs[4] != "0" {
		t.Errorf("photos: adwatch %s (downloaded %s), plain chain %s (%s failed)", ours[2], ours[4], theirs[2], theirs[4])
	}
	for _, row := range []string{"| end to end, photo-heavy: ratio (plain chain / adwatch) | ", "| end to end, text-only: adwatch run --once | "} {
		if !strings.Contains(table, row) {
			t.Errorf("no %q in\n%s", row, table)
		}
	}
	if n := strings.Count("\n"+table, "\n| "); n != 16 {
		t.Errorf("%d table lines, want a header, its rule and 14 rows:\n%s", n, table)
	}
}
