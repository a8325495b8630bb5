package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"net/http/httptest"

	"github.com/adwatch/adwatch/evidence"
	"github.com/adwatch/adwatch/internal/sim"
)

// adwatchIn runs one command in-process with cfg and data.
func adwatchIn(t *testing.T, cfg, data string, args ...string) (string, string, error) {
	t.Helper()
	root := newRoot()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(append([]string{"--config", cfg, "--data", data, "--no-sync"}, args...))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	err := root.ExecuteContext(ctx)
	return out.String(), errOut.String(), err
}

// TestEvidenceExportAndVerify crawls the small simulated world, exports
// it as WARC and verifies it; a copy with one byte of a page changed fails
// verification naming its record.
func TestEvidenceExportAndVerify(t *testing.T) {
	if testing.Short() {
		t.Skip("crawls the simulator")
	}
	world, err := sim.Generate(1, "small")
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(sim.NewServer(world))
	defer ts.Close()
	dir := t.TempDir()
	cfg := writeConfig(t, dir, ts.URL, "")
	data := filepath.Join(dir, "data")
	if _, stderr, err := adwatchIn(t, cfg, data, "run", "--once"); err != nil {
		t.Fatalf("run --once: %v\n%s", err, stderr)
	}

	warc := filepath.Join(dir, "all.warc")
	out, stderr, err := adwatchIn(t, cfg, data, "evidence", "export", "--all", "--out", warc, "--progress", "100")
	if err != nil {
		t.Fatalf("export: %v\n%s", err, stderr)
	}
	t.Logf("export: %s", out)
	if !regexp.MustCompile(`(?m)^1\d\d records: \d+ pages, \d+ images`).MatchString(stderr) {
		t.Errorf("no progress line on stderr:\n%s", stderr)
	}
	if out, _, err := adwatchIn(t, cfg, data, "evidence", "verify", warc); err != nil || !strings.Contains(out, ", 0 changed") {
		t.Fatalf("verify: %v\n%s", err, out)
	}

	// One byte of a page's body changed in a copy.
	raw, err := os.ReadFile(warc)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(raw, []byte("WARC-Type: response"))
	j := i + bytes.Index(raw[i:], []byte("<html"))
	raw[j+1] ^= 0x20
	id := regexp.MustCompile(`WARC-Record-ID: (<[^>]+>)`).FindAllSubmatch(raw[:j], -1)
	changed := string(id[len(id)-1][1])
	bad := filepath.Join(dir, "changed.warc")
	if err := os.WriteFile(bad, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err = adwatchIn(t, cfg, data, "evidence", "verify", bad)
	if err == nil || !strings.Contains(out, "CHANGED "+changed+" response") || strings.Count(out, "CHANGED") != 1 {
		t.Errorf("verify of a changed copy: %v\n%s\nwant record %s named", err, out, changed)
	}

	// A city and a window, compressed; a profile read from the index.
	for _, args := range [][]string{
		{"--city", "Oakland", "--since", "2020-10-02", "--until", "2020-10-03"},
		{"--profile", firstProfile(t, mustRun(t, cfg, data, "export", "ads"))},
	} {
		gz := filepath.Join(dir, "sel.warc.gz")
		if _, stderr, err := adwatchIn(t, cfg, data, append([]string{"evidence", "export", "--out", gz}, args...)...); err != nil {
			t.Fatalf("export %v: %v\n%s", args, err, stderr)
		}
		f, err := os.Open(gz)
		if err != nil {
			t.Fatal(err)
		}
		head := make([]byte, 2)
		_, _ = f.Read(head)
		f.Close()
		if head[0] != 0x1f || head[1] != 0x8b {
			t.Errorf("%s is not gzip", gz)
		}
		if out, _, err := adwatchIn(t, cfg, data, "evidence", "verify", gz); err != nil {
			t.Errorf("verify %v: %v\n%s", args, err, out)
		}
		if n := countRecords(t, gz); n < 4 {
			t.Errorf("export %v: %d records", args, n)
		}
	}
	if _, _, err := adwatchIn(t, cfg, data, "evidence", "export", "--out", filepath.Join(dir, "x.warc"), "--all", "--city", "Oakland"); err == nil {
		t.Error("export with two selections: no error")
	}
}

func mustRun(t *testing.T, cfg, data string, args ...string) []byte {
	t.Helper()
	out, stderr, err := adwatchIn(t, cfg, data, args...)
	if err != nil {
		t.Fatalf("%v: %v\n%s", args, err, stderr)
	}
	return []byte(out)
}

func countRecords(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	br, err := evidence.NewReader(bufio.NewReader(f))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		if _, err := evidence.ReadRecord(br); err != nil {
			return n
		}
		n++
	}
}
