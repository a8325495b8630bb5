package app_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/adwatch/adwatch/indexer"
	"github.com/adwatch/adwatch/internal/ad"
	"github.com/adwatch/adwatch/internal/app"
	"github.com/adwatch/adwatch/internal/config"
	"github.com/adwatch/adwatch/internal/sim"
	"github.com/adwatch/adwatch/internal/site"
	"github.com/adwatch/adwatch/internal/web"
)

// testConfig points the repository's configuration at a simulator on base.
func testConfig(t *testing.T, base string) config.Config {
	t.Helper()
	cfg, err := config.Load("../../configs/adwatch.yaml")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("../../configs/sites/simclassifieds.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(data), "http://127.0.0.1:8089", base)
	text = strings.ReplaceAll(text, `127\.0\.0\.1:8089`, strings.ReplaceAll(strings.TrimPrefix(base, "http://"), ".", `\.`))
	s, err := site.Parse([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Sites = []site.Site{s}
	return cfg
}

// logOut receives the stages' logs; set E2E_LOG=1 to see them.
var logOut io.Writer = io.Discard

func init() {
	if os.Getenv("E2E_LOG") != "" {
		logOut = os.Stderr
	}
}

func runOnce(t *testing.T, cfg config.Config, dir string) time.Duration {
	t.Helper()
	a := app.New(cfg, dir, slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelDebug})))
	a.SyncAlways = false
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	if err := a.Run(ctx, true); err != nil {
		t.Fatalf("run --once: %v", err)
	}
	return time.Since(start)
}

func TestEndToEndAlamedaScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end crawl of the simulator")
	}
	world, err := sim.Generate(1, "alameda")
	if err != nil {
		t.Fatal(err)
	}
	simSrv := sim.NewServer(world)
	ts := httptest.NewServer(simSrv)
	defer ts.Close()
	cfg := testConfig(t, ts.URL)
	dir := t.TempDir()

	took := runOnce(t, cfg, dir)
	t.Logf("first run: %d ads in %s (%.0f ads/s)", len(world.Ads), took, float64(len(world.Ads))/took.Seconds())

	idx, err := indexer.Open(dir, cfg.Linking.PHashThreshold, cfg.Linking.MaxProfilesPerLink, true)
	if err != nil {
		t.Fatal(err)
	}
	checkIndex := func(idx *indexer.Index) {
		t.Helper()
		n, err := idx.Count()
		if err != nil {
			t.Fatal(err)
		}
		if int(n) != len(world.Ads) {
			t.Errorf("indexed %d ads, the simulator has %d", n, len(world.Ads))
		}
		seen := map[string]int{}
		if err := idx.Ads(indexer.Filter{}, func(a ad.Ad) error { seen[a.ID]++; return nil }); err != nil {
			t.Fatal(err)
		}
		for _, a := range world.Ads {
			if id := fmt.Sprintf("simclassifieds:%d", a.ID); seen[id] != 1 {
				t.Errorf("ad %s indexed %d times, want once", id, seen[id])
			}
		}
		for _, tc := range []struct {
			date          string
			ads, profiles int
		}{{"2019-10-04", 999, 666}, {"2020-10-02", 1165, 750}} {
			from, to, err := web.Window(&cfg, "Oakland", tc.date)
			if err != nil {
				t.Fatal(err)
			}
			s, err := idx.Snapshot("Oakland", from, to)
			if err != nil {
				t.Fatal(err)
			}
			if s.Ads != tc.ads || s.Profiles != tc.profiles {
				t.Errorf("Oakland %s: got %d ads / %d profiles, want %d / %d", tc.date, s.Ads, s.Profiles, tc.ads, tc.profiles)
			}
			if s.Phones == 0 || s.Phones > s.Profiles {
				t.Errorf("Oakland %s: %d phones for %d profiles", tc.date, s.Phones, s.Profiles)
			}
		}
	}
	checkIndex(idx)
	idx.Close()

	if simSrv.TrapHits.Load() != 0 || simSrv.DisallowedHits.Load() != 0 {
		t.Errorf("crawler visited the calendar trap %d times and a robots-disallowed page %d times", simSrv.TrapHits.Load(), simSrv.DisallowedHits.Load())
	}
	if simSrv.LimitedAnswers.Load() == 0 || simSrv.RobotsHits.Load() == 0 {
		t.Errorf("simulator answered 429 %d times and robots.txt %d times; both should be exercised", simSrv.LimitedAnswers.Load(), simSrv.RobotsHits.Load())
	}

	// A second run over the same data adds nothing and loses nothing.
	runOnce(t, cfg, dir)
	idx, err = indexer.Open(dir, cfg.Linking.PHashThreshold, cfg.Linking.MaxProfilesPerLink, true)
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	checkIndex(idx)
	if _, err := os.Stat(filepath.Join(dir, "nats")); err != nil {
		t.Errorf("no JetStream store under the data dir: %v", err)
	}
}
