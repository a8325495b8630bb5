package app_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/adwatch/adwatch/internal/app"
)

// TestRolesBuildTheirStages builds each role alone, and all of them, on a
// real embedded JetStream and checks the stages each gives.
func TestRolesBuildTheirStages(t *testing.T) {
	for _, tc := range []struct {
		roles []string
		want  []string
	}{
		{[]string{app.RoleCrawl}, []string{"crawler"}},
		{[]string{app.RoleExtract}, []string{"extractor"}},
		{[]string{app.RoleIndex}, []string{"indexer"}},
		{[]string{app.RoleAlerts}, []string{"alerts"}},
		{[]string{app.RoleSend}, []string{"digest-scheduler", "digest-sender"}},
		// web alone on the embedded server serves the index the data dir
		// holds (with nats.url it keeps a view of its own: the
		// multi-process test).
		{[]string{app.RoleWeb}, []string{"web"}},
		{app.AllRoles(), []string{"alerts", "crawler", "digest-scheduler", "digest-sender", "extractor", "indexer", "web"}},
	} {
		t.Run(strings.Join(tc.roles, "+"), func(t *testing.T) {
			a := app.New(testConfig(t, "http://127.0.0.1:1"), t.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)))
			a.SyncAlways = false
			if err := a.Connect(context.Background(), true); err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			s, err := a.Build(t.Context(), tc.roles, app.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			var got []string
			for name := range s.Named {
				got = append(got, name)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("stages %v, want %v", got, tc.want)
			}
			if (s.Index != nil) != (slices.Contains(tc.roles, app.RoleIndex) || slices.Contains(tc.roles, app.RoleWeb)) {
				t.Errorf("index open: %v", s.Index != nil)
			}
		})
	}
}

func TestBuildRefusesWhatCannotRun(t *testing.T) {
	cfg := testConfig(t, "http://127.0.0.1:1")
	a := app.New(cfg, t.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if _, err := a.Build(t.Context(), []string{"bake"}, app.Options{}); err == nil || !strings.Contains(err.Error(), "unknown role") {
		t.Errorf("unknown role: %v", err)
	}
	if _, err := a.Build(t.Context(), []string{app.RoleCrawl}, app.Options{}); err == nil || !strings.Contains(err.Error(), "needs NATS") {
		t.Errorf("crawl without a bus: %v", err)
	}
	// A lone send role with no units has nothing to do: it says so.
	rules := filepath.Join(t.TempDir(), "alerts.yaml")
	if err := os.WriteFile(rules, []byte("window_days: 30\nrules: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a.Config.AlertsFile = rules
	a.SyncAlways = false
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := a.RunRoles(ctx, []string{app.RoleSend}, true); err == nil || !strings.Contains(err.Error(), "nothing to run") {
		t.Errorf("send without units: %v", err)
	}
}
