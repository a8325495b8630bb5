package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/adwatch/adwatch/internal/bus"
	"github.com/adwatch/adwatch/internal/sim"
)

// TestCrashMidRunLosesNothing is the chaos test: it kills adwatch run
// --once with SIGKILL three times at random points of its work (the crawl,
// the extractor, the indexer and the alert stage are all at work by then),
// then adwatch run (monitoring) once more just as a unit's digest falls due,
// runs it to the end, and expects the end state of a clean run on the same
// world: every ad of the simulator indexed exactly once, each in the same
// profile and network, the same alerts, the DA's figures exact, and the
// digest of that due time one digest, delivered.
func TestCrashMidRunLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "adwatch")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("building adwatch: %v\n%s", err, out)
	}
	world, err := sim.Generate(1, "alameda")
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(sim.NewServer(world))
	defer ts.Close()
	hk := &hook{posts: map[string]int{}}
	hs := httptest.NewServer(hk)
	defer hs.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()

	// The clean run on the same world.
	wantAlerts, wantLinks := cleanRun(ctx, t, bin, dir, ts.URL)

	cfgPath := writeConfig(t, dir, ts.URL, "")
	alertsFile := writeAlerts(t, dir, "units: []\n")
	setConfig(t, cfgPath, "alerts_file", alertsFile)
	setConfig(t, cfgPath, "serve", fmt.Sprintf("{addr: %q}", fmt.Sprintf("127.0.0.1:%d", freePort(t))))
	data := filepath.Join(dir, "data")
	args := []string{"--config", cfgPath, "--data", data, "run", "--once"}

	// Pull the plug three times at random points: the crawl, the
	// extractor, the indexer and the alert stage are all at work by then.
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	t.Logf("kill points from seed %d", seed)
	for kill := range 3 {
		run := exec.Command(bin, args...)
		if err := run.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(2 * time.Minute)
		for {
			if time.Now().After(deadline) {
				t.Fatal("no index after 2 minutes")
			}
			if _, err := os.Stat(filepath.Join(data, "index.bleve")); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		wait := time.Duration(1000+rng.IntN(4000)) * time.Millisecond
		time.Sleep(wait)
		if err := run.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = run.Wait()
		t.Logf("kill %d after %s of work", kill+1, wait)
	}

	digestUnderKill(ctx, t, bin, cfgPath, data, alertsFile, hs.URL, hk, rng)
	project, _ := filepath.Abs("../../configs/alerts.yaml")
	setConfig(t, cfgPath, "alerts_file", project)

	if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("the run after the kills: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--config", cfgPath, "--data", data, "export", "ads").Output()
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	if got := links(t, out); !maps.Equal(got, wantLinks) {
		diff := 0
		for id, l := range wantLinks {
			if got[id] != l {
				diff++
			}
		}
		t.Errorf("after the kills %d of %d ads are linked otherwise than in the clean run", diff, len(wantLinks))
	}
	if got := dataAlerts(ctx, t, data); !slices.Equal(got, wantAlerts) {
		t.Errorf("alerts after the kills:\n%v\nwant (the clean run's)\n%v", got, wantAlerts)
	}
	seen := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var a struct {
			ID      string   `json:"id"`
			Phones  []string `json:"phones"`
			Profile string   `json:"profile"`
		}
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatal(err)
		}
		if a.Profile == "" || len(a.Phones) == 0 {
			t.Errorf("exported ad %s without profile or phones", a.ID)
		}
		seen[a.ID]++
	}
	if len(seen) != len(world.Ads) {
		t.Errorf("after three kills and a rerun: %d distinct ads, want %d", len(seen), len(world.Ads))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("ad %s exported %d times", id, n)
		}
	}
	snap, err := exec.Command(bin, "--config", cfgPath, "--data", data, "compare", "--city", "Oakland", "--date", "2020-10-02", "--vs", "2019-10-04", "--json").Output()
	if err != nil {
		t.Fatal(err)
	}
	// The linking report against the simulator's truth.
	truth := filepath.Join(dir, "truth.jsonl")
	tf, err := os.Create(truth)
	if err != nil {
		t.Fatal(err)
	}
	if err := world.WriteTruth(tf, ts.URL); err != nil {
		t.Fatal(err)
	}
	tf.Close()
	evalOut, err := exec.Command(bin, "--config", cfgPath, "--data", data, "eval", "linking", "--truth", truth, "--json").Output()
	if err != nil {
		t.Fatalf("eval linking: %v", err)
	}
	var rep LinkingReport
	if err := json.Unmarshal(evalOut, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Ads != len(world.Ads) || rep.Missing != 0 || rep.Profiles.PairF1 < 0.97 || rep.Networks.PairRecall < 0.95 {
		t.Errorf("eval linking: %+v", rep)
	}
	prof, err := exec.Command(bin, "--config", cfgPath, "--data", data, "profile", firstProfile(t, out)).Output()
	if err != nil || !strings.Contains(string(prof), "Profile P") || !strings.Contains(string(prof), "ads from") {
		t.Errorf("profile command: %v\n%s", err, prof)
	}
	if !strings.Contains(string(snap), `"ads":{"current":1165,"previous":999,"change_pct":16.6}`) ||
		!strings.Contains(string(snap), `"profiles":{"current":750,"previous":666,"change_pct":12.6}`) {
		t.Errorf("compare after a crash: %s", snap)
	}
	readWhileRunning(t, bin, cfgPath, data, snap, prof, len(seen))
}

// readWhileRunning starts adwatch run (monitoring, holding the index and
// the data dir's NATS server) and checks that compare, profile and export
// answer as they did with the index closed, through the running process's
// API, and that the watchlist takes an entry through its NATS server.
func readWhileRunning(t *testing.T, bin, cfgPath, data string, snap, prof []byte, ads int) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	setConfig(t, cfgPath, "serve", fmt.Sprintf("{addr: %q}", addr))
	run := exec.Command(bin, "--config", cfgPath, "--data", data, "--no-sync", "run")
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = run.Process.Signal(os.Interrupt)
		_ = run.Wait()
	}()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		// Serving once the login page answers and the command-line token
		// is written.
		if resp, err := http.Get("http://" + addr + "/login"); err == nil {
			resp.Body.Close()
			if _, err := os.Stat(filepath.Join(data, "api.token")); err == nil && resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("adwatch run does not serve after a minute")
		}
	}
	cli := func(args ...string) ([]byte, string) {
		c := exec.Command(bin, append([]string{"--config", cfgPath, "--data", data}, args...)...)
		var stderr bytes.Buffer
		c.Stderr = &stderr
		out, err := c.Output()
		if err != nil {
			t.Fatalf("%v while adwatch run holds the index: %v\n%s", args, err, stderr.String())
		}
		return out, stderr.String()
	}
	out, stderr := cli("compare", "--city", "Oakland", "--date", "2020-10-02", "--vs", "2019-10-04", "--json")
	if !bytes.Equal(out, snap) || !strings.Contains(stderr, "reading through its API") {
		t.Errorf("compare through the running adwatch:\n%s\nwant\n%s\n(stderr %q)", out, snap, stderr)
	}
	id := strings.Fields(string(prof))[1]
	if out, _ := cli("profile", id); !bytes.Equal(out, prof) {
		t.Errorf("profile through the running adwatch:\n%s\nwant\n%s", out, prof)
	}
	if out, _ := cli("export", "ads"); bytes.Count(out, []byte("\n")) != ads {
		t.Errorf("export through the running adwatch: %d lines, want %d", bytes.Count(out, []byte("\n")), ads)
	}
	// The analysts' trend, day by day, with the DA's two days in it.
	if out, _ := cli("trends", "--city", "Oakland", "--from", "2019-10-04", "--to", "2019-10-04", "--csv"); !strings.HasPrefix(string(out), "date,city,ads,profiles,phones\n2019-10-04,Oakland,999,666,") {
		t.Errorf("trends through the running adwatch: %q", out)
	}
	if out, _ := cli("trends", "--city", "Oakland", "--from", "2020-10-01", "--to", "2020-10-03", "--json"); !strings.Contains(string(out), `{"date":"2020-10-02","city":"Oakland","ads":1165,"profiles":750,`) {
		t.Errorf("trends --json through the running adwatch: %s", out)
	}
	// The watchlist goes through the running adwatch's NATS server, not a
	// second server on the same store.
	cli("watch", "add", "--kind", "term", "--value", "Rosa Bella", "--by", "det. lee")
	if out, _ := cli("watch", "list"); !strings.Contains(string(out), `"rosa bella"`) {
		t.Errorf("watch list while running: %s", out)
	}
	// The unit's digest, with the DA's table of its city, while running.
	if out, _ := cli("digest", "--unit", "alameda-vice", "--dry-run"); !strings.Contains(string(out), "Subject:") {
		t.Errorf("digest while running: %s", out)
	}
}

// firstProfile returns the profile of the first exported ad.
func firstProfile(t *testing.T, export []byte) string {
	t.Helper()
	line, _, _ := bytes.Cut(export, []byte("\n"))
	var a struct{ Profile string }
	if err := json.Unmarshal(line, &a); err != nil || a.Profile == "" {
		t.Fatalf("no profile in %q", line)
	}
	return a.Profile
}

// writeConfig writes a config pointing at the simulator on base, with the
// given NATS URL (empty: embedded), and returns its path.
func writeConfig(t *testing.T, dir, base, natsURL string) string {
	t.Helper()
	sites, _ := filepath.Abs("../../configs/sites")
	indicators, _ := filepath.Abs("../../configs/indicators")
	alertsFile, _ := filepath.Abs("../../configs/alerts.yaml")
	cfgPath := filepath.Join(dir, "adwatch.yaml")
	replicas := 1
	if strings.Count(natsURL, ",") > 0 {
		replicas = 3
	}
	cfg := "nats: {url: \"" + natsURL + "\", replicas: " + string(rune('0'+replicas)) + "}\nsites_dir: " + sites +
		"\nsite_base_urls: {simclassifieds: \"" + base + "\", oldschool: \"" + base + "\", clasificados: \"" + base + "\"}" +
		"\nindicators_dir: " + indicators +
		"\nalerts_file: " + alertsFile +
		"\ncities: [{name: Oakland, timezone: America/Los_Angeles}]\n"
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfgPath
}

// digestUnderKill runs adwatch run (monitoring) with a unit whose digest
// falls due in 20 to 80 seconds, kills it with SIGKILL up to three seconds
// after the due time (while the digest is built, queued or sent), runs it
// again until the digest has come, and expects one digest for that time:
// delivered, and if twice (a kill between the webhook's answer and its
// record), with the same Idempotency-Key, which the receiver dedups.
func digestUnderKill(ctx context.Context, t *testing.T, bin, cfgPath, data, alertsFile, hookURL string, hk *hook, rng *rand.Rand) {
	t.Helper()
	due := time.Now().UTC().Add(80 * time.Second).Truncate(time.Minute)
	writeAlerts(t, filepath.Dir(alertsFile), "units:\n  - name: chaos-unit\n    webhook: "+hookURL+"/hook\n    cities: [Oakland]\n"+
		"    schedule: \""+due.Format("15:04")+"\"\n    timezone: UTC\n")
	logPath := filepath.Join(filepath.Dir(alertsFile), "run.log")
	logs, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	monitor := func() *exec.Cmd {
		c := exec.CommandContext(ctx, bin, "--config", cfgPath, "--data", data, "run")
		c.Stdout, c.Stderr = logs, logs
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		return c
	}
	run := monitor()
	kill := due.Add(time.Duration(rng.IntN(3000)) * time.Millisecond)
	time.Sleep(time.Until(kill))
	if err := run.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = run.Wait()
	posts, _ := hk.received()
	t.Logf("kill 4 (adwatch run) %s after the digest's time, %d digest(s) received by then", time.Since(due).Round(time.Millisecond), len(posts))

	run = monitor()
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		if posts, _ = hk.received(); len(posts) > 0 {
			break
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(logPath)
			t.Fatalf("the digest was not delivered within 3 minutes of the restart; adwatch run said:\n%s", tail(out, 6000))
		}
	}
	// Room for a second delivery, were the record of the first lost.
	time.Sleep(5 * time.Second)
	_ = run.Process.Signal(os.Interrupt)
	_ = run.Wait()
	posts, d := hk.received()
	if len(posts) != 1 || d.Unit != "chaos-unit" {
		t.Fatalf("digests received: %v (the last of unit %q); want one digest of chaos-unit for %s", posts, d.Unit, due.Format("15:04"))
	}
	for id, n := range posts {
		if n > 1 {
			t.Logf("digest %s delivered %d times with the same Idempotency-Key (the kill fell between the answer and its record)", id, n)
		}
	}
}

// cleanRun runs adwatch run --once on a fresh data dir against the
// simulator at base and returns its alerts' keys and its ads' links.
func cleanRun(ctx context.Context, t *testing.T, bin, dir, base string) (alertKeys []string, adLinks map[string]string) {
	t.Helper()
	bdir := filepath.Join(dir, "clean")
	if err := os.MkdirAll(bdir, 0o750); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, bdir, base, "")
	data := filepath.Join(bdir, "data")
	if out, err := exec.CommandContext(ctx, bin, "--config", cfg, "--data", data, "--no-sync", "run", "--once").CombinedOutput(); err != nil {
		t.Fatalf("the clean run: %v\n%s", err, tail(out, 4000))
	}
	out, err := exec.CommandContext(ctx, bin, "--config", cfg, "--data", data, "export", "ads").Output()
	if err != nil {
		t.Fatalf("export of the clean run: %v", err)
	}
	return dataAlerts(ctx, t, data), links(t, out)
}

// links maps each exported ad to its profile and network.
func links(t *testing.T, export []byte) map[string]string {
	t.Helper()
	out := map[string]string{}
	for line := range bytes.Lines(export) {
		var a struct{ ID, Profile, Network string }
		if err := json.Unmarshal(line, &a); err != nil {
			t.Fatal(err)
		}
		out[a.ID] = a.Profile + " " + a.Network
	}
	return out
}

// dataAlerts lists the alerts' keys in a data dir no process holds.
func dataAlerts(ctx context.Context, t *testing.T, data string) []string {
	t.Helper()
	owner, u, err := bus.Open(data, false, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	token, err := bus.Token(data)
	if err != nil {
		t.Fatal(err)
	}
	b, err := bus.Connect(ctx, u, 1, bus.Credentials{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	return alertKeys(ctx, t, b)
}

// setConfig sets the top-level key of the config at path to value (YAML),
// in place of any value it had.
func setConfig(t *testing.T, path, key, value string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var keep []string
	for line := range strings.Lines(string(b)) {
		if !strings.HasPrefix(line, key+":") {
			keep = append(keep, strings.TrimRight(line, "\n"))
		}
	}
	keep = append(keep, key+": "+value)
	if err := os.WriteFile(path, []byte(strings.Join(keep, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}
