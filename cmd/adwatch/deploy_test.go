package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/adwatch/adwatch/internal/app"
	"github.com/adwatch/adwatch/internal/config"
)

// deployDir is the repository's deploy/ directory.
const deployDir = "../../deploy"

// TestDeployConfigsLoad keeps deploy/ honest without docker or systemd:
// every YAML (each document) and JSON file parses; every adwatch config
// there loads and validates as installed (beside the shipped sites,
// indicators and alerts.yaml, as the image and the systemd instructions
// lay them out); every adwatch command line (the Dockerfile's CMD, the compose services, the systemd units) names
// a command the binary has, with flags it has, and a config that exists;
// the compose file's addresses agree with serve's; the NATS configs pass
// nats-server -t when nats-server is installed.
func TestDeployConfigsLoad(t *testing.T) {
	t.Run("yaml and json parse", func(t *testing.T) {
		yamls, jsons := 0, 0
		err := filepath.WalkDir(deployDir, func(path string, d fs.DirEntry, err error) error {
			switch {
			case err != nil || d.IsDir():
				return err
			case isYAML(path):
				yamls++
				// Every document of the file (the Kubernetes manifests
				// hold several).
				dec := yaml.NewDecoder(bytes.NewReader(readFile(t, path)))
				for i := 1; ; i++ {
					var v any
					err := dec.Decode(&v)
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						t.Errorf("%s: document %d: %v", path, i, err)
						break
					}
				}
			case strings.HasSuffix(path, ".json"):
				jsons++
				var v any
				if err := json.Unmarshal(readFile(t, path), &v); err != nil {
					t.Errorf("%s: %v", path, err)
				}
			}
			return nil
		})
		if err != nil || yamls == 0 || jsons == 0 {
			t.Fatalf("walking %s: %v (%d YAML files, %d JSON files)", deployDir, err, yamls, jsons)
		}
	})

	t.Run("dockerfile", func(t *testing.T) {
		df := string(readFile(t, filepath.Join(deployDir, "Dockerfile")))
		if !strings.Contains(df, `ENTRYPOINT ["adwatch"]`) || !strings.Contains(df, "COPY configs/ /etc/adwatch/") {
			t.Error("Dockerfile: want ENTRYPOINT [\"adwatch\"] and the configs under /etc/adwatch")
		}
		m := regexp.MustCompile(`(?m)^CMD (\[.*\])$`).FindStringSubmatch(df)
		if m == nil {
			t.Fatal("Dockerfile: no CMD [...]")
		}
		var args []string
		if err := json.Unmarshal([]byte(m[1]), &args); err != nil {
			t.Fatalf("Dockerfile CMD: %v", err)
		}
		cmd, cfg := checkCommand(t, "Dockerfile CMD", args)
		if cmd != "run" || cfg != "/etc/adwatch/adwatch.yaml" {
			t.Errorf("Dockerfile CMD: %q with %q, want run with the shipped /etc/adwatch/adwatch.yaml", cmd, cfg)
		}
	})

	t.Run("compose", testCompose)
	t.Run("systemd", testSystemd)
	t.Run("nats", testNATSConfigs)

	t.Run("role instances", func(t *testing.T) {
		// adwatch@NAME wherever deploy/ or docs/deploy.md names a unit.
		re := regexp.MustCompile(`adwatch@([a-z]+)`)
		var texts []string
		_ = filepath.WalkDir(deployDir, func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				texts = append(texts, string(readFile(t, path)))
			}
			return nil
		})
		if b, err := os.ReadFile("../../docs/deploy.md"); err == nil {
			texts = append(texts, string(b))
		}
		named := map[string]bool{}
		for _, s := range texts {
			for _, m := range re.FindAllStringSubmatch(s, -1) {
				named[m[1]] = true
				if !slices.Contains(roleCommands(), m[1]) {
					t.Errorf("adwatch@%s: %q is not a role command (%v)", m[1], m[1], roleCommands())
				}
			}
		}
		for _, r := range roleCommands() {
			if !named[r] {
				t.Errorf("no unit adwatch@%s is named anywhere in deploy/ or docs/deploy.md", r)
			}
		}
	})
}

// roleCommands are the commands that run one role each: every app role,
// web being "serve".
func roleCommands() []string {
	var out []string
	for _, r := range app.AllRoles() {
		if r == app.RoleWeb {
			r = "serve"
		}
		out = append(out, r)
	}
	return out
}

// checkCommand checks that args (without the program name) name a command
// of adwatch and only flags it has, and returns the command's name and its
// --config value.
func checkCommand(t *testing.T, where string, args []string) (name, cfg string) {
	t.Helper()
	root := newRoot()
	c, rest, err := root.Find(args)
	if err != nil || c == root {
		t.Errorf("%s: %q names no adwatch command (%v)", where, args, err)
		return "", ""
	}
	if err := c.ParseFlags(rest); err != nil {
		t.Errorf("%s: %q: %v", where, args, err)
		return c.Name(), ""
	}
	if pos := c.Flags().Args(); len(pos) > 0 {
		t.Errorf("%s: %q: unexpected arguments %q", where, args, pos)
	}
	f := c.Flags().Lookup("config")
	if f == nil || !f.Changed {
		t.Errorf("%s: %q: give --config explicitly (the default is relative to the working directory)", where, args)
		return c.Name(), ""
	}
	return c.Name(), f.Value.String()
}

// loadInstalled loads the adwatch config at src as it is installed: named
// name in a directory that also holds what configs/ ships (sites,
// indicators, alerts.yaml), as /etc/adwatch in the image and on a host.
// It reports false when the config does not load.
func loadInstalled(t *testing.T, src, name string) (config.Config, bool) {
	t.Helper()
	dir := t.TempDir()
	shipped, err := filepath.Abs("../../configs")
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(shipped)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != name {
			if err := os.Symlink(filepath.Join(shipped, e.Name()), filepath.Join(dir, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, readFile(t, src), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(path)
	if err != nil {
		t.Errorf("%s (installed as %s): %v", src, name, err)
		return c, false
	}
	if len(c.Sites) == 0 {
		t.Errorf("%s: no sites loaded", src)
	}
	return c, true
}

// checkRoleConfig checks what a config run by command needs: a role alone
// needs nats.url and credentials from the environment, not the file;
// adwatch run on one machine needs none.
func checkRoleConfig(t *testing.T, where, command string, c config.Config) {
	t.Helper()
	if c.NATS.Password != "" || c.NATS.Token != "" {
		t.Errorf("%s: a NATS secret is in the file; it belongs in the environment", where)
	}
	if command == "run" {
		return
	}
	if c.NATS.URL == "" {
		t.Errorf("%s: adwatch %s needs nats.url", where, command)
	}
	if strings.Count(c.NATS.URL, ",") == 2 && c.NATS.Replicas != 3 {
		t.Errorf("%s: three NATS nodes but nats.replicas %d", where, c.NATS.Replicas)
	}
}

func testCompose(t *testing.T) {
	dir := filepath.Join(deployDir, "compose")
	var f struct {
		Services map[string]struct {
			Image       string         `yaml:"image"`
			Command     []string       `yaml:"command"`
			Volumes     []string       `yaml:"volumes"`
			Environment map[string]any `yaml:"environment"`
			Networks    any            `yaml:"networks"`
		} `yaml:"services"`
		Volumes map[string]any `yaml:"volumes"`
	}
	compose := readFile(t, filepath.Join(dir, "docker-compose.yml"))
	if err := yaml.Unmarshal(compose, &f); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	ips := map[string]string{} // service: its fixed address
	for name, s := range f.Services {
		if m, ok := s.Networks.(map[string]any); ok {
			for _, n := range m {
				if nm, ok := n.(map[string]any); ok {
					if ip, ok := nm["ipv4_address"].(string); ok {
						ips[name] = ip
					}
				}
			}
		}
	}
	roles := map[string]int{}
	loaded := map[string]bool{}
	for name, s := range f.Services {
		if !strings.HasPrefix(s.Image, "adwatch") {
			continue
		}
		where := "compose service " + name
		cmd, cfgPath := checkCommand(t, where, s.Command)
		if cfgPath == "" {
			continue
		}
		roles[cmd]++
		// The config: a file of this directory mounted there, or the
		// image's own.
		src := ""
		for _, v := range s.Volumes {
			parts := strings.Split(v, ":")
			if len(parts) >= 2 && parts[1] == cfgPath && strings.HasPrefix(parts[0], "./") {
				src = filepath.Join(dir, parts[0])
			}
		}
		if src == "" {
			t.Errorf("%s: --config %s is not mounted from deploy/compose", where, cfgPath)
			continue
		}
		c, ok := loadInstalled(t, src, filepath.Base(cfgPath))
		loaded[filepath.Base(src)] = true
		if !ok {
			continue
		}
		checkRoleConfig(t, where, cmd, c)
		if _, ok := s.Environment["ADWATCH_NATS_PASSWORD"]; !ok && c.NATS.User != "" {
			t.Errorf("%s: nats.user %q but no ADWATCH_NATS_PASSWORD in its environment", where, c.NATS.User)
		}
		if cmd == "serve" || cmd == "send" {
			host, _, err := net.SplitHostPort(c.Serve.Addr)
			if err != nil {
				t.Fatalf("%s: serve.addr %q: %v", where, c.Serve.Addr, err)
			}
			if host != ips["serve"] {
				t.Errorf("%s: serve.addr %s, but the serve service's address is %q", where, c.Serve.Addr, ips["serve"])
			}
			if c.Serve.BehindProxy != ips["proxy"] {
				t.Errorf("%s: serve.behind_proxy %s, but the proxy's address is %q", where, c.Serve.BehindProxy, ips["proxy"])
			}
			if !strings.HasPrefix(c.Serve.PublicURL, "https://") {
				t.Errorf("%s: serve.public_url %q is not https", where, c.Serve.PublicURL)
			}
			if !slices.Contains(c.Serve.Names, host) {
				t.Errorf("%s: serve.names %v lacks %s, the name send's API requests use", where, c.Serve.Names, host)
			}
			caddy := string(readFile(t, filepath.Join(dir, "Caddyfile")))
			if !strings.Contains(caddy, "reverse_proxy "+c.Serve.Addr) {
				t.Errorf("Caddyfile does not proxy to serve.addr %s", c.Serve.Addr)
			}
		}
	}
	for _, r := range roleCommands() {
		if roles[r] == 0 {
			t.Errorf("compose: no service runs adwatch %s", r)
		}
	}
	for _, r := range []string{"index", "alerts", "send", "crawl", "serve"} {
		if roles[r] > 1 {
			t.Errorf("compose: %d services run adwatch %s; it must be single", roles[r], r)
		}
	}
	// Every adwatch config of the directory is one a service uses.
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if isYAML(e.Name()) && e.Name() != "docker-compose.yml" && !loaded[e.Name()] {
			t.Errorf("deploy/compose/%s: no service uses it", e.Name())
		}
	}
	// Secrets: every ${VAR} is in .env.example, and .env is ignored.
	example := string(readFile(t, filepath.Join(dir, ".env.example")))
	for _, m := range regexp.MustCompile(`\$\{([A-Z_]+)`).FindAllStringSubmatch(string(compose), -1) {
		if !regexp.MustCompile(`(?m)^` + m[1] + `=`).MatchString(example) {
			t.Errorf("docker-compose.yml uses ${%s}, which .env.example lacks", m[1])
		}
	}
	if !slices.Contains(strings.Fields(string(readFile(t, filepath.Join(dir, ".gitignore")))), ".env") {
		t.Error("deploy/compose/.gitignore must ignore .env")
	}
}

func testSystemd(t *testing.T) {
	dir := filepath.Join(deployDir, "systemd")
	var units []string
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(path, ".service") || strings.HasSuffix(path, ".conf") && strings.Contains(path, ".service.d")) {
			units = append(units, path)
		}
		return nil
	})
	if len(units) < 2 {
		t.Fatalf("systemd units: %v", units)
	}
	loaded := map[string]bool{}
	for _, u := range units {
		keys := unitKeys(t, u)
		for _, line := range keys["ExecStart"] {
			fields := strings.Fields(line)
			if len(fields) == 0 {
				continue // ExecStart= resets the list
			}
			if fields[0] != "/usr/local/bin/adwatch" {
				t.Errorf("%s: ExecStart %q does not run /usr/local/bin/adwatch", u, line)
				continue
			}
			instances := []string{""}
			if strings.Contains(line, "%i") {
				instances = roleCommands()
			}
			for _, inst := range instances {
				args := strings.Fields(strings.ReplaceAll(line, "%i", inst))[1:]
				where := u + " " + inst
				cmd, cfgPath := checkCommand(t, where, args)
				if cfgPath == "" {
					continue
				}
				if cmd != "run" && !slices.Contains(roleCommands(), cmd) {
					t.Errorf("%s: adwatch %s is not a role", where, cmd)
				}
				src := filepath.Join(dir, strings.TrimPrefix(cfgPath, "/etc/adwatch/"))
				if !strings.HasPrefix(cfgPath, "/etc/adwatch/") {
					t.Errorf("%s: --config %s is not under /etc/adwatch", where, cfgPath)
					continue
				}
				c, ok := loadInstalled(t, src, filepath.Base(cfgPath))
				loaded[filepath.Base(src)] = true
				if ok {
					checkRoleConfig(t, where, cmd, c)
				}
			}
		}
		if strings.HasSuffix(u, ".service") {
			for _, want := range []string{"NoNewPrivileges", "PrivateTmp", "ProtectSystem", "EnvironmentFile", "User", "StateDirectory"} {
				if len(keys[want]) == 0 {
					t.Errorf("%s: no %s=", u, want)
				}
			}
			if p := keys["ProtectSystem"]; len(p) > 0 && p[0] != "strict" {
				t.Errorf("%s: ProtectSystem=%s, want strict", u, p[0])
			}
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if isYAML(e.Name()) && !loaded[e.Name()] {
			t.Errorf("deploy/systemd/%s: no unit uses it", e.Name())
		}
	}
}

// unitKeys reads a systemd unit file's key=value lines, every value of
// each key in order.
func unitKeys(t *testing.T, path string) map[string][]string {
	t.Helper()
	keys := map[string][]string{}
	sc := bufio.NewScanner(strings.NewReader(string(readFile(t, path))))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' || line[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Errorf("%s: %q is not key=value", path, line)
			continue
		}
		keys[k] = append(keys[k], v)
	}
	return keys
}

// testNATSConfigs checks deploy/nats with nats-server -t when it is
// installed (make tools), with placeholder passwords in the environment.
func testNATSConfigs(t *testing.T) {
	confs, _ := filepath.Glob(filepath.Join(deployDir, "nats", "nats-*.conf"))
	if len(confs) != 3 {
		t.Fatalf("want three nats-N.conf, have %v", confs)
	}
	for _, c := range confs {
		if !regexp.MustCompile(`(?m)^max_payload: 16MB$`).Match(readFile(t, c)) {
			t.Errorf("%s: no max_payload: 16MB (adwatch's pages need it)", c)
		}
	}
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		t.Skip("nats-server not installed (make tools): configs not checked with -t")
	}
	for _, c := range confs {
		cmd := exec.Command(bin, "-c", c, "-t")
		cmd.Env = append(os.Environ(), "ADWATCH_NATS_PASSWORD=p", "NATS_OPERATOR_PASSWORD=p", "NATS_SYS_PASSWORD=p")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("nats-server -c %s -t: %v\n%s", c, err, out)
		}
	}
}

func isYAML(path string) bool {
	return strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
