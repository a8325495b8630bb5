package indexer

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// residentKB is how much of the mappings of the file at path this process
// holds resident (the Rss of its entries in /proc/self/smaps), and
// whether the file is mapped at all.
func residentKB(t *testing.T, path string) (kb int, mapped bool) {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skipf("no smaps: %v", err)
	}
	defer f.Close()
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if fields := strings.Fields(line); len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			in = len(fields) >= 6 && fields[5] == path
			mapped = mapped || in
			continue
		}
		if in && strings.HasPrefix(line, "Rss:") {
			n, err := strconv.Atoi(strings.Fields(line)[1])
			if err != nil {
				t.Fatal(err)
			}
			kb += n
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return kb, mapped
}

// TestStatePagesGivenBack: once an open has checked and decoded the state
// file, its pages leave the process's resident memory, writable or read
// only, and what is read from them afterwards is read right.
func TestStatePagesGivenBack(t *testing.T) {
	ads := linkCorpus(1200)
	dir := t.TempDir()
	buildSaved(t, dir, ads, 200)
	want := relinked(t, dir, ads)
	path := statePath(filepath.Join(dir, "index.bleve"))
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() < 128<<10 {
		// The kernel reads a few pages around any it is asked for.
		t.Fatalf("a state file of %d bytes: too small to tell", st.Size())
	}
	for _, readOnly := range []bool{true, false} {
		x, err := Open(dir, 8, 25, readOnly)
		if err != nil {
			t.Fatal(err)
		}
		kb, mapped := residentKB(t, path)
		if !mapped {
			x.Close()
			t.Fatalf("read only %v: the state file is not mapped", readOnly)
		}
		if size := int(st.Size() / 1024); kb > size/4 {
			t.Errorf("read only %v: %d kB of the %d kB state file resident after the open", readOnly, kb, size)
		}
		if got := linkAnswers(t, x.Linker, ads); !slices.Equal(got, want) {
			t.Errorf("read only %v: answers from the pages given back:\n%s", readOnly, firstDiff(got, want))
		}
		if err := x.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
