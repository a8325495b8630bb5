package main

import (
	"bytes"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/adwatch/adwatch/indexer"
	"github.com/adwatch/adwatch/internal/app"
	"github.com/adwatch/adwatch/internal/bus"
	"github.com/adwatch/adwatch/internal/config"
	"github.com/adwatch/adwatch/internal/synth"
)

// TestGenerateThenReindex: generate writes exactly the ads asked for into
// the ads stream, a round and a bit, and reindex turns them into an index
// where a phone of the second round's persons finds its ad.
func TestGenerateThenReindex(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the simulated world and indexes 5,000 ads")
	}
	dir := t.TempDir()
	cfgPath := writeConfig(t, dir, "http://127.0.0.1:1", "")
	data := filepath.Join(dir, "data")
	const n = 5000
	run := func(args ...string) string {
		t.Helper()
		root := newRoot()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(io.Discard)
		root.SetArgs(append([]string{"--config", cfgPath, "--data", data, "--no-sync"}, args...))
		if err := root.Execute(); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return out.String()
	}
	if out := run("generate", "--ads", "5000"); !strings.Contains(out, "wrote 5000 ads") {
		t.Fatalf("generate said %q", out)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	a := app.New(cfg, data, slog.New(slog.NewTextHandler(io.Discard, nil)))
	a.SyncAlways = false
	if err := a.Connect(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	st, err := a.Bus.JS.Stream(t.Context(), bus.StreamAds)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	if info.State.Msgs != n {
		t.Fatalf("%d messages on the ads stream, want %d", info.State.Msgs, n)
	}
	if out := run("reindex"); !strings.Contains(out, "read 5000 ads") || !strings.Contains(out, "5000 ads indexed") {
		t.Fatalf("reindex said %q", out)
	}

	gen, err := synth.New(1, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := gen.Ad(gen.Round() + 17)
	if len(want.Phones) == 0 {
		t.Fatalf("ad %s has no phone", want.ID)
	}
	idx, err := indexer.Open(data, cfg.Linking.PHashThreshold, cfg.Linking.MaxProfilesPerLink, true)
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	f, err := idx.Find(indexer.Search{Phones: []string{want.Phones[0].E164}, Size: 100})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(f.Hits, func(h indexer.Hit) bool { return h.ID == want.ID }) {
		t.Errorf("searching %s found %d ads, not %s", want.Phones[0].E164, f.Total, want.ID)
	}
	if got, _, err := idx.Get(gen.Ad(0).ID); err != nil || got.ID == "" {
		t.Errorf("the first generated ad is not in the index: %v", err)
	}
}
