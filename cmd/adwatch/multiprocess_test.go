package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/adwatch/adwatch/internal/bus"
	"github.com/adwatch/adwatch/internal/sim"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startCluster starts three nats-server processes with JetStream, clustered
// on loopback, and returns their client URLs.
func startCluster(t *testing.T) []string {
	t.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("nats-server is not installed; .ci/run installs it with go install")
		}
		t.Skip("nats-server not installed (make tools)")
	}
	const n = 3
	var client, routes []string
	var cports []int
	for range n {
		client = append(client, fmt.Sprintf("nats://127.0.0.1:%d", freePort(t)))
		cports = append(cports, freePort(t))
	}
	for _, p := range cports {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	for i := range n {
		port := strings.TrimPrefix(client[i], "nats://127.0.0.1:")
		cmd := exec.Command(bin, "--js", "--sd", t.TempDir(), "-a", "127.0.0.1", "-p", port,
			"-n", fmt.Sprintf("adw-%d", i), "--cluster_name", "adwatch-test",
			"--cluster", routes[i], "--routes", strings.Join(routes, ","))
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if testing.Verbose() {
			cmd.Stdout, cmd.Stderr = nil, nil
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	}
	// Wait for a JetStream meta leader.
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		nc, err := nats.Connect(strings.Join(client, ","))
		if err == nil {
			js, _ := jetstream.New(nc)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_, err = js.AccountInfo(ctx)
			cancel()
			nc.Close()
			if err == nil {
				return client
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatal("nats cluster not ready after 60s")
	return nil
}

// TestStagesAsSeparateProcesses runs crawl, extract and index as three
// adwatch processes against a three-node nats-server cluster.
func TestStagesAsSeparateProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	urls := startCluster(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "adwatch")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("building adwatch: %v\n%s", err, out)
	}
	world, err := sim.Generate(3, "small")
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(sim.NewServer(world))
	defer ts.Close()

	cfgPath := writeConfig(t, dir, ts.URL, strings.Join(urls, ","))

	start := func(args ...string) *exec.Cmd {
		cmd := exec.Command(bin, append([]string{"--config", cfgPath, "--data", filepath.Join(dir, "data-"+args[0])}, args...)...)
		if testing.Verbose() {
			cmd.Stderr = os.Stderr
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd
	}
	index := start("index")
	start("extract")
	start("crawl")

	nc, err := nats.Connect(strings.Join(urls, ","))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	// A bound that only a hung pipeline reaches: under -race beside the
	// end-to-end tests on two cores a healthy one has taken over 3 minutes.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	// Wait until every ad is on the ads stream and the indexer is idle.
	for {
		if ctx.Err() != nil {
			t.Fatal("pipeline did not finish in 10 minutes")
		}
		time.Sleep(500 * time.Millisecond)
		st, err := js.Stream(ctx, bus.StreamAds)
		if err != nil || st.CachedInfo().State.Msgs < uint64(len(world.Ads)) {
			continue
		}
		if n, err := bus.Pending(ctx, js, bus.StreamAds, "indexer"); err == nil && n == 0 {
			break
		}
	}
	if err := index.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := index.Wait(); err != nil {
		t.Fatalf("index process: %v", err)
	}

	out, err := exec.Command(bin, "--config", cfgPath, "--data", filepath.Join(dir, "data-index"),
		"snapshot", "--city", "Oakland", "--date", "2020-10-02", "--json").Output()
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	var snap struct{ Ads, Profiles int }
	if err := json.Unmarshal(out, &snap); err != nil {
		t.Fatal(err)
	}
	if snap.Ads != 90 || snap.Profiles != 60 {
		t.Errorf("snapshot after a multi-process run: %+v, want 90 ads / 60 profiles", snap)
	}
}
