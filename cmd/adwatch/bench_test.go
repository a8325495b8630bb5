package main

import (
	"bytes"
	"io"
	"regexp"
	"strconv"
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
		"| index size on disk |", "| search,", "| phone look-up,", "| linking an ad |", "| resident memory, peak |",
		"| opening the index (a restart) |", "| resident memory, generate and reindex |", "| resident memory, serving |", "| resident memory, linking |",
		"| compacting the months that are over |", "| snapshot (adwatch snapshot) |", "| profile view (adwatch profile) |"} {
		if !strings.Contains(table, row) {
			t.Errorf("no %q in\n%s", row, table)
		}
	}
	// Every look-up is of a number an indexed ad carries.
	if m := regexp.MustCompile(`(\d+) look-ups, (\d+) found`).FindStringSubmatch(table); m == nil || m[1] != m[2] || m[1] == "0" {
		t.Errorf("phone look-ups that miss: %v", m)
	}
	if n := strings.Count("\n"+table, "\n| "); n != 19 {
		t.Errorf("%d table lines, want a header, its rule and 17 rows:\n%s", n, table)
	}
}

// TestBenchKeep: adwatch bench --keep DIR keeps the corpus and its index;
// the next run with the same DIR skips generating and reindexing and
// measures that index, every look-up still finding its ad.
func TestBenchKeep(t *testing.T) {
	if testing.Short() {
		t.Skip("hashes photos and indexes ads")
	}
	dir := t.TempDir()
	run := func() (string, string) {
		root := newRoot()
		var out, log bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&log)
		root.SetArgs([]string{"--config", "../../configs/adwatch.yaml", "bench", "--ads", "200", "--photo-time", "10ms", "--keep", dir})
		if err := root.Execute(); err != nil {
			t.Fatal(err)
		}
		return out.String(), log.String()
	}
	first, log := run()
	if !strings.Contains(first, "| indexing (adwatch reindex) |") || strings.Contains(log, "reindex skipped") {
		t.Fatalf("the first run did not index:\n%s\n%s", first, log)
	}
	second, log := run()
	if strings.Contains(second, "| indexing (adwatch reindex) |") || !strings.Contains(log, "generate and reindex skipped") {
		t.Fatalf("the second run indexed again:\n%s\n%s", second, log)
	}
	for _, table := range []string{first, second} {
		if m := regexp.MustCompile(`(\d+) look-ups, (\d+) found`).FindStringSubmatch(table); m == nil || m[1] != m[2] || m[1] == "0" {
			t.Errorf("phone look-ups that miss: %v\n%s", m, table)
		}
		if !strings.Contains(table, "200 ads, the linker's state read back") {
			t.Errorf("the index opened does not hold the 200 ads:\n%s", table)
		}
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
	// The site as issue 11 measured it (300x400 photos, served warm), then
	// the simulator's own 96x96 photos drawn on every request.
	for _, site := range []string{"end to end, photo-heavy", "end to end, photo-heavy, 96x96 drawn per request"} {
		ours := regexp.MustCompile(`\| ` + site + `: adwatch run --once \| .* \| (\d+) ads, (\d+) photos \((\d+) published, (\d+) downloaded`).FindStringSubmatch(table)
		theirs := regexp.MustCompile(`\| ` + site + `: plain libraries chained \| .* \| (\d+) ads, (\d+) photos \((\d+) distinct hashed, (\d+) failed\)`).FindStringSubmatch(table)
		if ours == nil || theirs == nil {
			t.Fatalf("no %q rows in\n%s", site, table)
		}
		if ours[1] != theirs[1] || ours[1] != ours[3] || ours[1] == "0" {
			t.Errorf("%s: ads: adwatch %s (published %s), plain chain %s", site, ours[1], ours[3], theirs[1])
		}
		if ours[2] != theirs[2] || ours[2] != ours[4] || ours[2] == "0" || theirs[4] != "0" {
			t.Errorf("%s: photos: adwatch %s (downloaded %s), plain chain %s (%s failed)", site, ours[2], ours[4], theirs[2], theirs[4])
		}
		if row := "| " + site + ": ratio (plain chain / adwatch) | "; !strings.Contains(table, row) {
			t.Errorf("no %q in\n%s", row, table)
		}
	}
	if !strings.Contains(table, "served warm") {
		t.Errorf("the photo-heavy row does not say its photos were served warm:\n%s", table)
	}
	if row := "| end to end, text-only: adwatch run --once | "; !strings.Contains(table, row) {
		t.Errorf("no %q in\n%s", row, table)
	}
	// The seven end-to-end rows come on top of the 17 of TestBenchTable.
	if n := strings.Count("\n"+table, "\n| "); n != 26 {
		t.Errorf("%d table lines, want a header, its rule and 24 rows:\n%s", n, table)
	}
}

// TestBenchNationalDay: adwatch bench --national-day N adds the national
// day's row: N pages with three photos each went through the stages, every
// one of them indexed, and some photos were reused.
func TestBenchNationalDay(t *testing.T) {
	if testing.Short() {
		t.Skip("extracts, indexes and alerts hundreds of ads")
	}
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(io.Discard)
	root.SetArgs([]string{"--config", "../../configs/adwatch.yaml", "bench", "--ads", "100", "--photo-time", "10ms", "--national-day", "300"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	table := out.String()
	m := regexp.MustCompile(`\| national day: 300 ads with 3 photos each \(extract, index, alerts\) \| \d+ ads/s; 200,000 ads in [^|]+ \| [^|]+ \| (\d+) pages and (\d+) photos \((\d+) distinct, .* indexed \((\d+) ads\)`).FindStringSubmatch(table)
	if m == nil {
		t.Fatalf("no national day row in\n%s", table)
	}
	distinct, _ := strconv.Atoi(m[3])
	if m[1] != "300" || m[2] != "900" || m[4] != "300" || distinct == 0 || distinct >= 900 {
		t.Errorf("national day: %s pages, %s photos (%s distinct), %s indexed; want 300, 900 (some reused), 300", m[1], m[2], m[3], m[4])
	}
}
