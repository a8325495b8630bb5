package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/adwatch/adwatch/internal/app"
	"github.com/adwatch/adwatch/internal/config"
)

// exportedMetrics returns the name of every metric an adwatch process
// with every role registers: the metrics /metrics may show, vectors that
// have no series yet included.
func exportedMetrics(t *testing.T) []string {
	t.Helper()
	cfg, err := config.Load("../../configs/adwatch.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Retention.Days = 30 // the retention stage and its metrics
	a := app.New(cfg, t.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	a.SyncAlways = false
	if err := a.Connect(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	s, err := a.Build(t.Context(), app.AllRoles(), app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	names := a.MetricNames()
	if len(names) < 20 || !slices.Contains(names, "adwatch_dead_letters_total") {
		t.Fatalf("every role registers only %v", names)
	}
	return names
}

// metricToken is a name in a PromQL expression that is a metric of
// adwatch's (or the Go and process collectors', or Prometheus's up).
var metricToken = regexp.MustCompile(`\b(?:adwatch|go|process)_[a-zA-Z0-9_]+\b|\bup\b`)

// promqlMetrics returns the metric names expr uses, label values in
// quotes left out.
func promqlMetrics(expr string) []string {
	expr = regexp.MustCompile(`"[^"]*"`).ReplaceAllString(expr, `""`)
	return metricToken.FindAllString(expr, -1)
}

// isExported reports whether name is a series of a metric in exported: a
// histogram's series add _bucket, _sum or _count; up is Prometheus's own.
func isExported(exported []string, name string) bool {
	if name == "up" || slices.Contains(exported, name) {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && slices.Contains(exported, base) {
			return true
		}
	}
	return false
}

// TestDeployMonitoring keeps deploy/prometheus and deploy/grafana honest:
// every query of the dashboard and every rule names metrics the binary
// exports (with every role built), the dashboard shows every adwatch
// metric, the rules watch what they must, Prometheus scrapes every role of
// the compose file where it serves metrics, and promtool accepts the
// configuration, the rules and their unit tests (when installed: make
// tools; CI must have it).
func TestDeployMonitoring(t *testing.T) {
	exported := exportedMetrics(t)
	promDir := filepath.Join(deployDir, "prometheus")

	t.Run("rules", func(t *testing.T) {
		var f struct {
			Groups []struct {
				Rules []struct {
					Alert string `yaml:"alert"`
					Expr  string `yaml:"expr"`
				} `yaml:"rules"`
			} `yaml:"groups"`
		}
		if err := yaml.Unmarshal(readFile(t, filepath.Join(promDir, "rules.yml")), &f); err != nil {
			t.Fatal(err)
		}
		used := map[string]bool{}
		for _, g := range f.Groups {
			for _, r := range g.Rules {
				names := promqlMetrics(r.Expr)
				if len(names) == 0 {
					t.Errorf("rule %s: %q names no metric of adwatch", r.Alert, r.Expr)
				}
				for _, n := range names {
					used[n] = true
					if !isExported(exported, n) {
						t.Errorf("rule %s names %s, which adwatch does not export", r.Alert, n)
					}
				}
			}
		}
		// What the rules must watch: each stage's lag, dead letters, crawl
		// errors, digest failures, a full store.
		for _, want := range []string{"adwatch_extractor_consumer_lag", "adwatch_indexer_consumer_lag", "adwatch_dead_letters_total",
			"adwatch_crawler_errors_total", "adwatch_digest_failed_total", "adwatch_crawler_storage_full"} {
			if !used[want] {
				t.Errorf("no rule watches %s", want)
			}
		}
	})

	t.Run("dashboard", func(t *testing.T) {
		files, _ := filepath.Glob(filepath.Join(deployDir, "grafana", "dashboards", "*.json"))
		if len(files) == 0 {
			t.Fatal("no dashboard in deploy/grafana/dashboards")
		}
		used := map[string]bool{}
		for _, file := range files {
			var d any
			if err := json.Unmarshal(readFile(t, file), &d); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			exprs := 0
			walkJSON(d, func(key string, v any) {
				s, ok := v.(string)
				if key != "expr" || !ok {
					return
				}
				exprs++
				names := promqlMetrics(s)
				if len(names) == 0 {
					t.Errorf("%s: query %q names no metric of adwatch", file, s)
				}
				for _, n := range names {
					used[n] = true
					if !isExported(exported, n) {
						t.Errorf("%s: query %q names %s, which adwatch does not export", file, s, n)
					}
				}
			})
			if exprs == 0 {
				t.Errorf("%s: no query", file)
			}
		}
		// A panel for every stage's metrics: every adwatch metric is shown.
		for _, m := range exported {
			if !strings.HasPrefix(m, "adwatch_") {
				continue
			}
			if !used[m] && !used[m+"_bucket"] && !used[m+"_count"] {
				t.Errorf("the dashboard shows no %s: add a panel (deploy/grafana/dashboards)", m)
			}
		}
	})

	t.Run("scrape", func(t *testing.T) {
		// Every compose service that runs an adwatch role is scraped on
		// its metrics.addr port, and nothing else is.
		var compose struct {
			Services map[string]struct {
				Image   string   `yaml:"image"`
				Command []string `yaml:"command"`
				Volumes []string `yaml:"volumes"`
			} `yaml:"services"`
		}
		if err := yaml.Unmarshal(readFile(t, filepath.Join(deployDir, "compose", "docker-compose.yml")), &compose); err != nil {
			t.Fatal(err)
		}
		var roles []string
		for name, s := range compose.Services {
			if strings.HasPrefix(s.Image, "adwatch") {
				roles = append(roles, name)
			}
		}
		slices.Sort(roles)
		cfg, ok := loadInstalled(t, filepath.Join(deployDir, "compose", "adwatch.yaml"), "cluster.yaml")
		if !ok {
			return
		}
		_, port, err := net.SplitHostPort(cfg.Metrics.Addr)
		if err != nil {
			t.Fatalf("deploy/compose/adwatch.yaml: metrics.addr %q: %v", cfg.Metrics.Addr, err)
		}
		var prom struct {
			RuleFiles     []string `yaml:"rule_files"`
			ScrapeConfigs []struct {
				JobName string `yaml:"job_name"`
				DNS     []struct {
					Names []string `yaml:"names"`
					Port  int      `yaml:"port"`
				} `yaml:"dns_sd_configs"`
			} `yaml:"scrape_configs"`
		}
		if err := yaml.Unmarshal(readFile(t, filepath.Join(promDir, "prometheus.yml")), &prom); err != nil {
			t.Fatal(err)
		}
		var scraped []string
		for _, sc := range prom.ScrapeConfigs {
			for _, d := range sc.DNS {
				if sc.JobName != "adwatch" {
					continue
				}
				if got := d.Port; got == 0 || port != strconv.Itoa(got) {
					t.Errorf("prometheus.yml: job adwatch scrapes port %d, metrics.addr is %s", got, cfg.Metrics.Addr)
				}
				scraped = append(scraped, d.Names...)
			}
		}
		slices.Sort(scraped)
		if !slices.Equal(scraped, roles) {
			t.Errorf("prometheus.yml scrapes %v; the compose services of adwatch are %v", scraped, roles)
		}
		if !slices.Contains(prom.RuleFiles, "rules.yml") {
			t.Errorf("prometheus.yml: rule_files %v lacks rules.yml", prom.RuleFiles)
		}
	})

	t.Run("grafana provisioning", func(t *testing.T) {
		// The compose file mounts the dashboards where the provider reads
		// them, and the data source is the compose file's Prometheus.
		var compose struct {
			Services map[string]struct {
				Volumes []string `yaml:"volumes"`
				Ports   []string `yaml:"ports"`
			} `yaml:"services"`
		}
		if err := yaml.Unmarshal(readFile(t, filepath.Join(deployDir, "compose", "docker-compose.yml")), &compose); err != nil {
			t.Fatal(err)
		}
		mounts := map[string]string{}
		for _, v := range compose.Services["grafana"].Volumes {
			if src, dst, ok := strings.Cut(v, ":"); ok {
				mounts[src] = strings.TrimSuffix(dst, ":ro")
			}
		}
		var provider struct {
			Providers []struct {
				Options struct {
					Path string `yaml:"path"`
				} `yaml:"options"`
			} `yaml:"providers"`
		}
		if err := yaml.Unmarshal(readFile(t, filepath.Join(deployDir, "grafana", "provisioning", "dashboards", "adwatch.yaml")), &provider); err != nil {
			t.Fatal(err)
		}
		if len(provider.Providers) != 1 || provider.Providers[0].Options.Path != mounts["../grafana/dashboards"] {
			t.Errorf("the dashboards provider reads %+v; compose mounts deploy/grafana/dashboards at %q", provider.Providers, mounts["../grafana/dashboards"])
		}
		if mounts["../grafana/provisioning"] != "/etc/grafana/provisioning" {
			t.Errorf("compose mounts deploy/grafana/provisioning at %q, not /etc/grafana/provisioning", mounts["../grafana/provisioning"])
		}
		var ds struct {
			Datasources []struct {
				Type string `yaml:"type"`
				URL  string `yaml:"url"`
			} `yaml:"datasources"`
		}
		if err := yaml.Unmarshal(readFile(t, filepath.Join(deployDir, "grafana", "provisioning", "datasources", "prometheus.yaml")), &ds); err != nil {
			t.Fatal(err)
		}
		if len(ds.Datasources) != 1 || ds.Datasources[0].Type != "prometheus" || ds.Datasources[0].URL != "http://prometheus:9090" {
			t.Errorf("data sources %+v, want the compose service prometheus", ds.Datasources)
		}
		if _, ok := compose.Services["prometheus"]; !ok {
			t.Error("compose has no service prometheus")
		}
	})

	t.Run("promtool", func(t *testing.T) {
		bin, err := exec.LookPath("promtool")
		if err != nil {
			if os.Getenv("CI") != "" {
				t.Fatal("promtool is not installed (make tools)")
			}
			t.Skip("promtool not installed (make tools): rules and configs not checked")
		}
		for _, args := range [][]string{
			{"check", "rules", "rules.yml"},
			{"test", "rules", "rules_test.yml"},
			{"check", "config", "--syntax-only", "prometheus.yml"},
			{"check", "config", "--syntax-only", "prometheus-k8s.yml"},
		} {
			cmd := exec.Command(bin, args...)
			cmd.Dir = promDir
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		}
	})
}

// walkJSON calls f with every key and value of v, depth first.
func walkJSON(v any, f func(key string, v any)) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			f(k, e)
			walkJSON(e, f)
		}
	case []any:
		for _, e := range x {
			walkJSON(e, f)
		}
	}
}
