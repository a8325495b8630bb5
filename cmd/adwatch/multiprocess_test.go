package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/adwatch/adwatch/alerts"
	"github.com/adwatch/adwatch/internal/bus"
	"github.com/adwatch/adwatch/internal/record"
	"github.com/adwatch/adwatch/internal/sim"
	"github.com/adwatch/adwatch/web"
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

// cluster is three nats-server processes with JetStream, clustered on
// loopback.
type cluster struct {
	t    *testing.T
	bin  string
	urls []string
	args [][]string
	// cmds are the running servers (nil for a stopped one).
	cmds []*exec.Cmd
	// logs is the directory of the servers' logs.
	logs string
}

// startCluster starts the three servers and waits until JetStream answers.
func startCluster(t *testing.T) *cluster {
	t.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("nats-server is not installed; .ci/run installs it with go install")
		}
		t.Skip("nats-server not installed (make tools)")
	}
	const n = 3
	c := &cluster{t: t, bin: bin, cmds: make([]*exec.Cmd, n), logs: t.TempDir()}
	var routes []string
	for range n {
		c.urls = append(c.urls, fmt.Sprintf("nats://127.0.0.1:%d", freePort(t)))
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", freePort(t)))
	}
	for i := range n {
		port := strings.TrimPrefix(c.urls[i], "nats://127.0.0.1:")
		c.args = append(c.args, []string{"--js", "--sd", t.TempDir(), "-a", "127.0.0.1", "-p", port,
			"-n", fmt.Sprintf("adw-%d", i), "--cluster_name", "adwatch-test",
			"--cluster", routes[i], "--routes", strings.Join(routes, ",")})
		c.start(i)
	}
	t.Cleanup(func() {
		for i := range c.cmds {
			c.stop(i)
		}
	})
	c.waitReady(60 * time.Second)
	return c
}

// start starts node i (again, on the same store after a stop).
func (c *cluster) start(i int) {
	cmd := exec.Command(c.bin, c.args[i]...)
	f, err := os.OpenFile(filepath.Join(c.logs, fmt.Sprintf("nats-%d.log", i)), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	c.cmds[i] = cmd
}

// stop kills node i, as a machine that loses power.
func (c *cluster) stop(i int) {
	if c.cmds[i] == nil {
		return
	}
	_ = c.cmds[i].Process.Kill()
	_ = c.cmds[i].Wait()
	c.cmds[i] = nil
}

// url is the client URL of every node, for a client that fails over.
func (c *cluster) url() string { return strings.Join(c.urls, ",") }

// waitReady waits for a JetStream meta leader.
func (c *cluster) waitReady(limit time.Duration) {
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		nc, err := nats.Connect(c.url())
		if err == nil {
			js, _ := jetstream.New(nc)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_, err = js.AccountInfo(ctx)
			cancel()
			nc.Close()
			if err == nil {
				return
			}
		}
	}
	c.t.Fatalf("nats cluster not ready after %s", limit)
}

// role is one adwatch process of the test, its log kept in a file.
type role struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

// hook is a webhook receiver that counts the posts of each digest.
type hook struct {
	mu    sync.Mutex
	posts map[string]int
	last  record.Digest
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var d record.Digest
	if err := json.NewDecoder(r.Body).Decode(&d); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.posts[r.Header.Get("Idempotency-Key")]++
	h.last = d
}

func (h *hook) received() (map[string]int, record.Digest) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return maps.Clone(h.posts), h.last
}

// TestStagesAsSeparateProcesses runs every role as its own adwatch process
// (crawl, two extracts, index, alerts, send, serve) against a three-node
// nats-server cluster, kills one node while the pages are being crawled
// and extracted, restarts it on its store once every ad is extracted, and
// expects every ad once, the alerts of a clean in-process run, the digest
// delivered once, and serve answering over HTTP.
func TestStagesAsSeparateProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	cl := startCluster(t)
	dir := t.TempDir()
	keepLogs(t, dir, cl.logs)
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
	hk := &hook{posts: map[string]int{}}
	hs := httptest.NewServer(hk)
	defer hs.Close()

	// A bound that only a hung pipeline reaches: under -race beside the
	// end-to-end tests on two cores a healthy one has taken over 3 minutes.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	// The alerts a clean run raises on the same world: adwatch run --once
	// on an embedded server.
	want := baselineAlerts(ctx, t, bin, dir, ts.URL)
	if len(want) == 0 {
		t.Fatal("the clean run raised no alert: nothing to compare")
	}

	// The unit's digest is due in 30 to 90 seconds (its schedule is a
	// minute of the day), while the pipeline works or soon after.
	due := time.Now().UTC().Add(90 * time.Second).Truncate(time.Minute)
	alertsFile := writeAlerts(t, dir, "units:\n  - name: test-unit\n    webhook: "+hs.URL+"/hook\n    cities: [Oakland]\n"+
		"    schedule: \""+due.Format("15:04")+"\"\n    timezone: UTC\n")
	cfgPath := writeConfig(t, dir, ts.URL, cl.url())
	serveAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	project, _ := filepath.Abs("../../configs/alerts.yaml")
	cfg = bytes.Replace(cfg, []byte("alerts_file: "+project), []byte("alerts_file: "+alertsFile), 1)
	cfg = fmt.Appendf(cfg, "serve: {addr: %q}\n", serveAddr)
	if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
		t.Fatal(err)
	}

	data := func(name string) string { return filepath.Join(dir, "data-"+name) }
	var roles []*role
	start := func(name, dataDir string, args ...string) *role {
		r := &role{name: name, log: filepath.Join(dir, name+".log"), done: make(chan struct{})}
		f, err := os.Create(r.log)
		if err != nil {
			t.Fatal(err)
		}
		r.cmd = exec.Command(bin, append([]string{"--config", cfgPath, "--data", dataDir}, args...)...)
		r.cmd.Stdout, r.cmd.Stderr = f, f
		if testing.Verbose() {
			r.cmd.Stderr = io.MultiWriter(f, os.Stderr)
		}
		if err := r.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() {
			r.err = r.cmd.Wait()
			f.Close()
			close(r.done)
		}()
		t.Cleanup(func() { _ = r.cmd.Process.Kill(); <-r.done })
		roles = append(roles, r)
		return r
	}
	// dead fails the test if a role process has exited.
	dead := func() {
		t.Helper()
		for _, r := range roles {
			select {
			case <-r.done:
				out, _ := os.ReadFile(r.log)
				t.Fatalf("role %s exited: %v\n%s", r.name, r.err, tail(out, 4000))
			default:
			}
		}
	}

	// An account to log in with, before serve starts.
	add := exec.Command(bin, "--config", cfgPath, "--data", data("cli"), "user", "add", "lee", "--role", "investigator", "--password-stdin")
	add.Stdin = strings.NewReader("correct horse battery staple\n")
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	start("serve", data("serve"), "serve")
	index := start("index", data("index"), "index")
	start("alerts", data("alerts"), "alerts")
	// send counts the digest's ads and profiles through serve's API: it
	// runs on serve's data dir (docs/deploy.md).
	start("send", data("serve"), "send")
	start("extract-1", data("extract-1"), "--verbose", "extract")
	start("extract-2", data("extract-2"), "--verbose", "extract")

	nc, err := nats.Connect(cl.url(), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	// waitFor polls cond until it holds, failing the test when a role
	// has died or ctx ends.
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for !cond() {
			dead()
			select {
			case <-ctx.Done():
				for _, r := range roles {
					out, _ := os.ReadFile(r.log)
					t.Logf("%s:\n%s", r.name, tail(out, 2000))
				}
				for i := range cl.args {
					out, _ := os.ReadFile(filepath.Join(cl.logs, fmt.Sprintf("nats-%d.log", i)))
					t.Logf("nats-%d:\n%s", i, tail(out, 3000))
				}
				t.Fatalf("pipeline hung: %s not reached in 10 minutes", what)
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	msgs := func(stream string) uint64 {
		st, err := js.Stream(brief(ctx), stream)
		if err != nil {
			return 0
		}
		return st.CachedInfo().State.Msgs
	}

	serveView := "view-" + record.SHA256Hex([]byte(data("serve")))[:12]
	// Every role up (serving, its consumers made) before the crawl.
	waitFor("every role up", func() bool {
		resp, err := http.Get("http://" + serveAddr + "/login")
		if err != nil {
			return false
		}
		resp.Body.Close()
		for _, c := range [][2]string{{bus.StreamPages, "extractor"}, {bus.StreamAds, "indexer"}, {bus.StreamAds, serveView},
			{bus.StreamPasses, "indexer-passes"}, {bus.StreamPasses, serveView + "-passes"}, {bus.StreamOutbox, "sender"}} {
			if _, err := js.Consumer(brief(ctx), c[0], c[1]); err != nil {
				return false
			}
		}
		return resp.StatusCode == http.StatusOK
	})
	start("crawl", data("crawl"), "crawl")

	// Kill the node leading the pages stream while pages are crawled.
	var leader string
	waitFor("the first pages", func() bool {
		st, err := js.Stream(brief(ctx), bus.StreamPages)
		if err != nil || st.CachedInfo().State.Msgs < 20 || st.CachedInfo().Cluster == nil {
			return false
		}
		leader = st.CachedInfo().Cluster.Leader
		return leader != ""
	})
	down := slices.IndexFunc(cl.args, func(a []string) bool { return slices.Contains(a, leader) })
	if down < 0 {
		t.Fatalf("no node named %q", leader)
	}
	for _, name := range []string{bus.StreamPages, bus.StreamAds, bus.StreamProfiles, bus.StreamOutbox} {
		st, err := js.Stream(brief(ctx), name)
		if err != nil {
			t.Fatal(err)
		}
		if info := st.CachedInfo(); info.Config.Replicas != 3 || info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
			t.Fatalf("stream %s: %d replicas (%+v); a lost node would stop it", name, info.Config.Replicas, info.Cluster)
		}
	}
	// The node loss runs unless ADWATCH_TEST_NODE_LOSS=0 (to look at the
	// cluster without it): the node leading the pages stream is killed
	// mid-crawl and restarted once every ad is extracted.
	nodeLoss := os.Getenv("ADWATCH_TEST_NODE_LOSS") != "0"
	if nodeLoss {
		pages, ads := msgs(bus.StreamPages), msgs(bus.StreamAds)
		cl.stop(down)
		t.Logf("killed node %s with %d pages and %d ads on the streams", leader, pages, ads)
	}
	// The pipeline goes on (on two nodes, with a node down): every ad is
	// extracted.
	waitFor("every ad extracted", func() bool { return msgs(bus.StreamAds) >= uint64(len(world.Ads)) })
	if nodeLoss {
		cl.start(down)
		t.Logf("restarted node %s", leader)
	}

	idle := func(stream, durable string) bool {
		n, err := bus.Pending(brief(ctx), js, stream, durable)
		return err == nil && n == 0
	}
	waitFor("the index and serve's view idle", func() bool {
		return idle(bus.StreamPages, "extractor") && idle(bus.StreamAds, "indexer") && idle(bus.StreamAds, serveView) &&
			idle(bus.StreamPasses, "indexer-passes")
	})
	// The restarted node has caught up: every replica of the ads and of
	// the alerts is current.
	waitFor("the restarted node current", func() bool {
		for _, name := range []string{bus.StreamAds, "KV_" + bus.BucketAlerts} {
			st, err := js.Stream(brief(ctx), name)
			if err != nil {
				return false
			}
			info, err := st.Info(brief(ctx))
			if err != nil || info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
				return false
			}
			for _, p := range info.Cluster.Replicas {
				if !p.Current || p.Offline {
					return false
				}
			}
		}
		return true
	})

	// Every ad once on the ads stream.
	if n := msgs(bus.StreamAds); n != uint64(len(world.Ads)) {
		t.Errorf("ads stream holds %d messages, want %d (one per ad)", n, len(world.Ads))
	}
	// Both extractors did some of the work.
	for _, name := range []string{"extract-1", "extract-2"} {
		out, _ := os.ReadFile(filepath.Join(dir, name+".log"))
		if n := bytes.Count(out, []byte(`msg="ad extracted"`)); n == 0 {
			t.Errorf("%s extracted no ad: the two extractors do not share the work", name)
		} else {
			t.Logf("%s extracted %d ads", name, n)
		}
	}

	// The alerts of the clean run, each once.
	b, err := bus.Connect(ctx, cl.url(), 3, bus.Credentials{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var got []string
	converged := time.Now().Add(3 * time.Minute)
	waitFor("the alerts of a clean run", func() bool {
		got = alertKeys(brief(ctx), t, b)
		return slices.Equal(got, want) || time.Now().After(converged)
	})
	if !slices.Equal(got, want) {
		t.Errorf("alerts after losing a node:\n%v\nwant (a clean run's)\n%v", got, want)
	}

	// serve answers over HTTP: a login, a search, and the command-line
	// token's snapshot.
	checkServe(ctx, t, serveAddr, data("serve"), world)

	// The digest is delivered once, with the figures read through serve.
	waitFor("the digest delivered", func() bool {
		posts, _ := hk.received()
		return len(posts) > 0 && msgs(bus.StreamOutbox) == 0 && idle(bus.StreamOutbox, "sender")
	})
	posts, d := hk.received()
	for id, n := range posts {
		if n != 1 {
			t.Errorf("digest %s delivered %d times", id, n)
		}
		if _, err := b.Digests.Get(brief(ctx), "delivered."+id+".webhook"); err != nil {
			t.Errorf("digest %s not recorded as delivered: %v", id, err)
		}
	}
	if len(posts) != 1 || d.Unit != "test-unit" || len(d.Snapshots) != 1 || d.Snapshots[0].City != "Oakland" {
		t.Errorf("digests: %v, the last %+v; want one of test-unit with Oakland's figures", posts, d)
	}

	// Every role stops cleanly.
	for _, r := range roles {
		if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range roles {
		<-r.done
		if r.err != nil {
			out, _ := os.ReadFile(r.log)
			t.Errorf("role %s: %v\n%s", r.name, r.err, tail(out, 4000))
		}
	}
	_ = index

	// The index holds every ad once, and the snapshot is exact.
	out, err := exec.Command(bin, "--config", cfgPath, "--data", data("index"), "export", "ads").Output()
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	seen := map[string]int{}
	for line := range bytes.Lines(out) {
		var a struct{ ID string }
		if err := json.Unmarshal(line, &a); err != nil {
			t.Fatal(err)
		}
		seen[a.ID]++
	}
	if len(seen) != len(world.Ads) {
		t.Errorf("index holds %d distinct ads, want %d", len(seen), len(world.Ads))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("ad %s indexed %d times", id, n)
		}
	}
	out, err = exec.Command(bin, "--config", cfgPath, "--data", data("index"),
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

// baselineAlerts runs adwatch run --once on an embedded server over the
// simulator at base and returns the keys of the alerts it raised.
func baselineAlerts(ctx context.Context, t *testing.T, bin, dir, base string) []string {
	t.Helper()
	alerts, _ := cleanRun(ctx, t, bin, dir, base)
	return alerts
}

// alertKeys lists the keys of the alerts on b, as the bucket's leader
// knows them, sorted, failing on a key listed twice.
func alertKeys(ctx context.Context, t *testing.T, b *bus.Bus) []string {
	t.Helper()
	list, err := alerts.List(ctx, b.JS, b.Alerts)
	if err != nil {
		t.Logf("listing the alerts: %v", err)
		return nil
	}
	var keys []string
	for _, a := range list {
		keys = append(keys, a.Key)
	}
	slices.Sort(keys)
	if k := slices.Compact(slices.Clone(keys)); len(k) != len(keys) {
		t.Errorf("an alert listed twice: %v", keys)
	}
	return keys
}

// checkServe logs in to serve at addr, searches for a phone of the world,
// and reads Oakland's snapshot with the command-line token serve wrote.
func checkServe(ctx context.Context, t *testing.T, addr, data string, world *sim.World) {
	t.Helper()
	base := "http://" + addr
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	resp, err := c.Post(base+"/api/login", "application/json",
		strings.NewReader(`{"username":"lee","password":"correct horse battery staple"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %s", resp.Status)
	}
	phone := world.Ads[0].Phones[0]
	resp, err = c.Get(base + "/api/search?q=" + url.QueryEscape(phone))
	if err != nil {
		t.Fatal(err)
	}
	var res web.SearchResult
	err = json.NewDecoder(resp.Body).Decode(&res)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || res.Total == 0 {
		t.Errorf("search for %s through serve: %s, %v, %+v", phone, resp.Status, err, res)
	}
	token, err := os.ReadFile(filepath.Join(data, "api.token"))
	if err != nil {
		t.Fatalf("serve wrote no command-line token: %v", err)
	}
	snap, err := web.NewClient(base, strings.TrimSpace(string(token))).Snapshot(ctx, "Oakland", "2020-10-02")
	if err != nil || snap.Ads != 90 || snap.Profiles != 60 {
		t.Errorf("snapshot through serve's API: %+v, %v; want 90 ads / 60 profiles", snap, err)
	}
}

// writeAlerts writes the project's alert rules with the given units
// section and returns the file's path.
func writeAlerts(t *testing.T, dir, units string) string {
	t.Helper()
	src, err := os.ReadFile("../../configs/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rules, _, ok := strings.Cut(string(src), "\nunits:")
	if !ok {
		t.Fatal("configs/alerts.yaml has no units section")
	}
	path := filepath.Join(dir, "alerts.yaml")
	if err := os.WriteFile(path, []byte(rules+"\n"+units), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// tail is the last n bytes of out.
func tail(out []byte, n int) []byte {
	if len(out) > n {
		return out[len(out)-n:]
	}
	return out
}

// keepLogs copies the roles' and the nodes' logs to the directory named by
// ADWATCH_TEST_LOGS when the test fails, before its temporary directories
// go.
func keepLogs(t *testing.T, dirs ...string) {
	to := os.Getenv("ADWATCH_TEST_LOGS")
	if to == "" {
		// In CI the logs go with the run: print each role's warnings
		// and errors, one line per message, into the failed test's
		// output.
		t.Cleanup(func() {
			if t.Failed() {
				for _, d := range dirs {
					logs, _ := filepath.Glob(filepath.Join(d, "*.log"))
					for _, l := range logs {
						printWarnings(t, l)
					}
				}
			}
		})
		return
	}
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, d := range dirs {
			logs, _ := filepath.Glob(filepath.Join(d, "*.log"))
			for _, l := range logs {
				if b, err := os.ReadFile(l); err == nil {
					_ = os.MkdirAll(to, 0o755)
					_ = os.WriteFile(filepath.Join(to, filepath.Base(l)), b, 0o644)
				}
			}
		}
		t.Logf("logs kept in %s", to)
	})
}

// printWarnings logs the first line of each distinct warning or error
// message in the log file l (an adwatch role's or a nats-server's; at
// most 20).
func printWarnings(t *testing.T, l string) {
	data, err := os.ReadFile(l)
	if err != nil {
		return
	}
	seen := map[string]bool{}
	for line := range bytes.Lines(data) {
		if !bytes.Contains(line, []byte("level=WARN")) && !bytes.Contains(line, []byte("level=ERROR")) &&
			!bytes.Contains(line, []byte("[WRN]")) && !bytes.Contains(line, []byte("[ERR]")) {
			continue
		}
		msg := line
		for _, tag := range []string{"[WRN] ", "[ERR] "} { // a nats-server line
			if i := bytes.Index(line, []byte(tag)); i >= 0 {
				msg = line[i:]
			}
		}
		if i := bytes.Index(line, []byte("msg=")); i >= 0 {
			msg = line[i:]
			if j := bytes.Index(msg, []byte(" component=")); j >= 0 {
				msg = msg[:j]
			}
		}
		if seen[string(msg)] || len(seen) == 20 {
			continue
		}
		seen[string(msg)] = true
		t.Logf("%s: %s", filepath.Base(l), bytes.TrimSpace(line))
	}
}

// brief bounds one request to the cluster by ten seconds: with a deadline
// of its own (the test's) a request lost with a killed node is not timed
// out by the client, and the test would wait for an answer that never
// comes instead of asking again.
func brief(ctx context.Context) context.Context {
	c, cancel := context.WithTimeout(ctx, 10*time.Second)
	time.AfterFunc(11*time.Second, cancel)
	return c
}
