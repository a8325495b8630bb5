package main

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/adwatch/adwatch/internal/app"
	"github.com/adwatch/adwatch/internal/config"
)

// TestReindexRefusesWhileOwned: while another process owns the data dir,
// reindex refuses and leaves the index alone; alone, it rebuilds into a
// new directory and swaps it in.
func TestReindexRefusesWhileOwned(t *testing.T) {
	dir := t.TempDir()
	cfgPath := writeConfig(t, dir, "http://127.0.0.1:1", "")
	data := filepath.Join(dir, "data")
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	run := func() (string, error) {
		root := newRoot()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(io.Discard)
		root.SetArgs([]string{"--config", cfgPath, "--data", data, "--no-sync", "reindex"})
		err := root.Execute()
		return out.String(), err
	}
	// Another owner: the lock is per open file, so this test's own
	// process can hold it.
	owner := app.New(cfg, data, slog.New(slog.NewTextHandler(io.Discard, nil)))
	owner.SyncAlways = false
	if err := owner.Connect(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	idx, err := owner.OpenIndex(false)
	if err != nil {
		t.Fatal(err)
	}
	idx.Close()
	if _, err := run(); err == nil || !strings.Contains(err.Error(), "owns this data dir") {
		t.Errorf("reindex while owned: %v, want a refusal", err)
	}
	if _, err := os.Stat(filepath.Join(data, "index.bleve")); err != nil {
		t.Errorf("the index after a refused reindex: %v", err)
	}
	owner.Close()
	out, err := run()
	if err != nil || !strings.Contains(out, "read 0 ads from the stream") {
		t.Fatalf("reindex alone: %v %q", err, out)
	}
	for _, gone := range []string{"reindex", "index.bleve.old"} {
		if _, err := os.Stat(filepath.Join(data, gone)); !os.IsNotExist(err) {
			t.Errorf("%s left behind: %v", gone, err)
		}
	}
	if _, err := os.Stat(filepath.Join(data, "index.bleve")); err != nil {
		t.Errorf("no index after reindex: %v", err)
	}
}
