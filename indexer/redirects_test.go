package indexer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/adwatch/adwatch/internal/record"
)

// mergeTwo indexes two ads of one person in dir, the later posted first,
// so that the second merges the first one's profile away; it returns the
// old profile id and the one it now resolves to.
func mergeTwo(t *testing.T, dir string) (old, survivor string) {
	t.Helper()
	t0 := time.Date(2020, 10, 2, 0, 0, 0, 0, time.UTC)
	x, err := Open(dir, 8, 25, false)
	if err != nil {
		t.Fatal(err)
	}
	late := record.Ad{ID: "late", Poster: "Rosa", PostedAt: t0.Add(5 * time.Hour), PageSHA256: "1", Phones: []record.Phone{{E164: "+15108730123"}}}
	if _, err := x.Put([]record.Ad{late}); err != nil {
		t.Fatal(err)
	}
	old = x.Linker.Profile("late")
	early := record.Ad{ID: "early", Poster: "Rosa", PostedAt: t0, PageSHA256: "2", Phones: []record.Phone{{E164: "+15108730123"}}}
	if _, err := x.Put([]record.Ad{early}); err != nil {
		t.Fatal(err)
	}
	survivor = x.Linker.Profile("late")
	if err := x.Published(); err != nil {
		t.Fatal(err)
	}
	if old == survivor {
		t.Fatal("the second ad did not merge the first one's profile away")
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	return old, survivor
}

// TestRedirectLog: the redirects linking makes are kept in their own file,
// not as internal records of the index (which bleve writes again at every
// persist), and they hold after a relink, when the linker's state file is
// gone; a line cut short by a crash is left out, a corrupt one is an error.
func TestRedirectLog(t *testing.T) {
	dir := t.TempDir()
	old, survivor := mergeTwo(t, dir)
	path := filepath.Join(dir, "index.bleve")
	log, err := os.ReadFile(filepath.Join(path, redirectLogFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), old) || !strings.HasSuffix(string(log), "\n") {
		t.Fatalf("redirect log %q: want %s in whole lines", log, old)
	}
	resolves := func(readOnly bool, what string) {
		t.Helper()
		x, err := Open(dir, 8, 25, readOnly)
		if err != nil {
			t.Fatal(err)
		}
		defer x.Close()
		if n, err := x.redirectCount(); err != nil || n != 0 {
			t.Errorf("%s: %d redirect records among the index's internal records (%v), want none", what, n, err)
		}
		if got := x.Linker.Resolve(old); got != survivor {
			t.Errorf("%s: %s resolves to %s, want %s", what, old, got, survivor)
		}
	}
	resolves(true, "reopened")
	// Without the state file the linker relinks every ad in id order; the
	// old id is history only the log keeps.
	forgetState(t, path)
	resolves(false, "relinked")
	// A crash while a line was written leaves part of it.
	f, err := os.OpenFile(filepath.Join(path, redirectLogFile), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"P-cut":"P-sh`); err != nil {
		t.Fatal(err)
	}
	f.Close()
	forgetState(t, path)
	resolves(true, "relinked read-only with a partial last line")
	// A writable open cuts the partial line off, so a line appended after
	// it stands alone.
	x, err := Open(dir, 8, 25, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := x.appendRedirects(map[string]string{"P-new": "P-kept"}); err != nil {
		t.Fatal(err)
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	forgetState(t, path)
	resolves(false, "relinked after a partial line and a line appended")
	y, err := Open(dir, 8, 25, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := y.Linker.Resolve("P-new"); got != "P-kept" {
		t.Errorf("the line appended after a partial one: P-new resolves to %s, want P-kept", got)
	}
	y.Close()
	if err := os.WriteFile(filepath.Join(path, redirectLogFile), []byte("{not json\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	forgetState(t, path)
	x, err = Open(dir, 8, 25, false)
	if err == nil {
		x.Close()
		t.Fatal("a corrupt redirect log opened without an error")
	}
	if !strings.Contains(err.Error(), "redirect log") || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("a corrupt redirect log: %v, want it and the line named", err)
	}
}

// TestRedirectsMigrated: an index whose redirects are internal records, as
// adwatch kept them before the redirect log, answers with them read-only,
// and a writable open moves them to the log and deletes the records.
func TestRedirectsMigrated(t *testing.T) {
	dir := t.TempDir()
	old, survivor := mergeTwo(t, dir)
	path := filepath.Join(dir, "index.bleve")
	// Put the redirects back as the records of before, and the log away.
	x, err := Open(dir, 8, 25, false)
	if err != nil {
		t.Fatal(err)
	}
	other := map[string]string{"P-gone": "P-kept"}
	for i, r := range []map[string]string{{old: survivor}, other} {
		data, _ := json.Marshal(r)
		if err := x.bleve.SetInternal([]byte(redirectsPrefix+string(rune('0'+i))), data); err != nil {
			t.Fatal(err)
		}
	}
	if err := x.bleve.SetInternal([]byte(redirectsPrefix+"n"), []byte("2")); err != nil {
		t.Fatal(err)
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(path, redirectLogFile)); err != nil {
		t.Fatal(err)
	}
	check := func(readOnly bool, wantRecords int) {
		t.Helper()
		if err := os.Remove(statePath(path)); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		x, err := Open(dir, 8, 25, readOnly)
		if err != nil {
			t.Fatal(err)
		}
		defer x.Close()
		if got := x.Linker.Resolve(old); got != survivor {
			t.Errorf("read only %v: %s resolves to %s, want %s", readOnly, old, got, survivor)
		}
		if got := x.Linker.Resolve("P-gone"); got != "P-kept" {
			t.Errorf("read only %v: P-gone resolves to %s, want P-kept", readOnly, got)
		}
		if n, err := x.redirectCount(); err != nil || n != wantRecords {
			t.Errorf("read only %v: %d redirect records (%v), want %d", readOnly, n, err, wantRecords)
		}
	}
	check(true, 2)  // read-only: read as they are
	check(false, 0) // writable: moved to the log
	check(true, 0)  // and read from it
	log, err := os.ReadFile(filepath.Join(path, redirectLogFile))
	if err != nil || strings.Count(string(log), "\n") != 2 {
		t.Errorf("redirect log after the move: %q (%v), want the two records as two lines", log, err)
	}
}

// forgetState removes the linker's state file of the index at path: the
// next open relinks every ad.
func forgetState(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(statePath(path)); err != nil {
		t.Fatal(err)
	}
}

// TestRedirectsKeptAcrossARebuild: an index rebuilt from the stream keeps
// the redirects of the index it replaces (adwatch reindex), after its
// own, through a restart and a relink; an old id that is a profile of the
// rebuilt index again is left out.
func TestRedirectsKeptAcrossARebuild(t *testing.T) {
	oldDir := t.TempDir()
	old, survivor := mergeTwo(t, oldDir)
	t0 := time.Date(2020, 10, 2, 0, 0, 0, 0, time.UTC)
	early := record.Ad{ID: "early", Poster: "Rosa", PostedAt: t0, PageSHA256: "2", Phones: []record.Phone{{E164: "+15108730123"}}}
	late := record.Ad{ID: "late", Poster: "Rosa", PostedAt: t0.Add(5 * time.Hour), PageSHA256: "1", Phones: []record.Phone{{E164: "+15108730123"}}}

	for _, tc := range []struct {
		name         string
		ads          []record.Ad
		before, want string
		kept         int
	}{
		// The later ad gone from the stream (its retention): the
		// rebuild never makes old a profile, so never redirects it.
		{"aged out", []record.Ad{early}, old, survivor, 1},
		// The same ads: the rebuild redirects old itself.
		{"the same", []record.Ad{late, early}, survivor, survivor, 0},
		// Without the earliest ad, old is a profile again.
		{"current again", []record.Ad{late}, old, old, 0},
	} {
		for _, held := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/held=%v", tc.name, held), func(t *testing.T) {
				// adwatch reindex holds the old index without its links
				// (OpenHeld); a read-only open reads them.
				var prev *Index
				var err error
				if held {
					prev, err = OpenHeld(oldDir, nil)
				} else {
					prev, err = Open(oldDir, 8, 25, true)
				}
				if err != nil {
					t.Fatal(err)
				}
				defer prev.Close()
				if held {
					if prev.Linker != nil {
						t.Fatal("OpenHeld read the old index's links")
					}
					if other, err := Open(oldDir, 8, 25, false); !errors.Is(err, ErrLocked) {
						if err == nil {
							other.Close()
						}
						t.Fatalf("a second writable open beside OpenHeld: %v, want ErrLocked", err)
					}
				}
				dir := t.TempDir()
				x, err := Open(dir, 8, 25, false)
				if err != nil {
					t.Fatal(err)
				}
				for _, a := range tc.ads {
					if _, err := x.Put([]record.Ad{a}); err != nil {
						t.Fatal(err)
					}
				}
				if got := x.Linker.Resolve(old); got != tc.before {
					t.Fatalf("before: %s resolves to %s in the rebuilt index, want %s", old, got, tc.before)
				}
				n, err := x.KeepRedirects(prev)
				if err != nil {
					t.Fatal(err)
				}
				if n != tc.kept {
					t.Fatalf("kept %d redirects, want %d", n, tc.kept)
				}
				if got := x.Linker.Resolve(old); got != tc.want {
					t.Fatalf("%s resolves to %s, want %s", old, got, tc.want)
				}
				if err := x.Close(); err != nil {
					t.Fatal(err)
				}
				for _, relink := range []bool{false, true} {
					if relink {
						forgetState(t, filepath.Join(dir, "index.bleve"))
					}
					x, err := Open(dir, 8, 25, false)
					if err != nil {
						t.Fatal(err)
					}
					got := x.Linker.Resolve(old)
					if err := x.Close(); err != nil {
						t.Fatal(err)
					}
					if got != tc.want {
						t.Fatalf("reopened (relink %v): %s resolves to %s, want %s", relink, old, got, tc.want)
					}
				}
			})
		}
	}
}
