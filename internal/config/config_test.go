package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestLoadShippedConfig(t *testing.T) {
	c, err := Load("../../configs/adwatch.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Sites) == 0 || c.Serve.Addr != "127.0.0.1:8080" {
		t.Errorf("loaded %+v", c)
	}
	loc, err := c.Location("oakland")
	if err != nil || loc.String() != "America/Los_Angeles" {
		t.Errorf("Oakland zone %v %v", loc, err)
	}
}

func TestParseBad(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"serve: {addr: 0.0.0.0:8080}", "not a loopback"},
		{"unknown_key: 1", "field unknown_key not found"},
		{"cities: [{name: Oakland, timezone: Mars/Base}]", "not a valid IANA zone"},
		{"linking: {phash_threshold: 40}", "outside 0..32"},
		{"crawl: {interval: 1s}", "shorter than a minute"},
		{"audit: {retention: 720h}", "audit.retention: 720h0m0s is shorter than a year"},
		{"retention: {days: -1}", "retention: days and every cannot be below zero"},
		{"audit: {retention: -8760h}", "shorter than a year"},
		{"serve: {addr: 0.0.0.0:8080, tls_cert: c.pem}", "tls_cert and tls_key go together"},
		{"serve: {addr: 0.0.0.0:8080, behind_proxy: proxy.example}", "not an IP address"},
		{"serve: {public_url: ftp://x.example}", "not an http(s) URL"},
		{"serve: {addr: 127.example:8080}", "not a loopback"},
		{"metrics: {addr: 9464}", "metrics.addr: \"9464\" is not host:port"},
	} {
		_, err := Parse([]byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", tc.yaml, err, tc.want)
		}
	}
	if _, err := Parse(nil); err != nil {
		t.Errorf("empty config: %v", err)
	}
}

// TestServeBeyondLoopback: a public address loads with TLS or a trusted
// proxy; the digests' address is the public URL, else the listen address.
func TestServeBeyondLoopback(t *testing.T) {
	for _, tc := range []struct{ yaml, url string }{
		{"serve: {addr: 0.0.0.0:8443, tls_cert: c.pem, tls_key: k.pem, public_url: https://adwatch.unit.example/}", "https://adwatch.unit.example"},
		{"serve: {addr: 10.0.0.5:8080, behind_proxy: 10.0.0.1}", "http://10.0.0.5:8080"},
		{"", "http://127.0.0.1:8080"},
	} {
		c, err := Parse([]byte(tc.yaml))
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.yaml, err)
			continue
		}
		if got := c.WebURL(); got != tc.url {
			t.Errorf("Parse(%q).WebURL() = %q, want %q", tc.yaml, got, tc.url)
		}
		if c.Serve.Banner == "" {
			t.Errorf("Parse(%q): no default banner", tc.yaml)
		}
	}
}

// TestAuditRetention: a config without an audit section keeps a year of
// audit entries; a longer retention is kept as written.
func TestAuditRetention(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		want time.Duration
	}{
		{"", 8760 * time.Hour},
		{"region: US", 8760 * time.Hour},
		{"audit: {}", 8760 * time.Hour},
		{"audit: {retention: 8760h}", 8760 * time.Hour},
		{"audit: {retention: 61320h}", 7 * 8760 * time.Hour},
	} {
		c, err := Parse([]byte(tc.yaml))
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.yaml, err)
			continue
		}
		if got := c.Audit.Retention; got != tc.want {
			t.Errorf("Parse(%q): audit.retention = %s, want %s", tc.yaml, got, tc.want)
		}
	}
}

// TestSiteBaseURLs: site_base_urls moves the shipped sites to another
// address without editing their descriptions; a name that is no site is an
// error.
func TestSiteBaseURLs(t *testing.T) {
	shipped, err := Load("../../configs/adwatch.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The simulator's sites: simclassifieds and oldschool at its root,
	// clasificados under /ec/.
	shippedStarts := map[string]string{"clasificados": "http://127.0.0.1:8089/ec/"}
	for _, s := range shipped.Sites {
		want, ok := shippedStarts[s.Name]
		if !ok {
			want = "http://127.0.0.1:8089/"
		}
		if got := strings.Join(s.Starts(), " "); got != want {
			t.Errorf("shipped site %s starts at %q, want %s", s.Name, got, want)
		}
	}
	sites, err := filepath.Abs("../../configs/sites")
	if err != nil {
		t.Fatal(err)
	}
	write := func(extra string) string {
		p := filepath.Join(t.TempDir(), "adwatch.yaml")
		if err := os.WriteFile(p, []byte("sites_dir: "+sites+"\n"+extra), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c, err := Load(write("site_base_urls: {oldschool: \"http://127.0.0.1:9001\"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range c.Sites {
		got[s.Name] = strings.Join(s.Starts(), " ")
	}
	want := map[string]string{"oldschool": "http://127.0.0.1:9001/", "simclassifieds": "http://127.0.0.1:8089/", "clasificados": "http://127.0.0.1:8089/ec/"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("start URLs (-want +got):\n%s", diff)
	}
	for _, s := range c.Sites {
		if s.Name == "oldschool" && (!s.IsAdPage("http://127.0.0.1:9001/old/post/12") || s.Allowed("http://127.0.0.1:8089/old/post/12")) {
			t.Error("oldschool's patterns did not move to the new base URL")
		}
	}
	for _, tc := range []struct{ yaml, want string }{
		{"site_base_urls: {nosuchsite: \"http://127.0.0.1:9001\"}\n", `no site named "nosuchsite"`},
		{"site_base_urls: {oldschool: \"127.0.0.1:9001\"}\n", "want an http or https URL"},
	} {
		if _, err := Load(write(tc.yaml)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.yaml, err, tc.want)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:8080", true},
		{"127.0.0.2:8080", true},
		{"localhost:8080", true},
		{"[::1]:8080", true},
		{"0.0.0.0:8080", false},
		{":8080", false},
		{"10.0.0.1:8080", false},
		{"[::]:8080", false},
		// A name is resolved, not read as text.
		{"127.0.0.1.invalid:8080", false},
		{"127.attacker.invalid:8080", false},
	} {
		if got := IsLoopback(tc.addr); got != tc.want {
			t.Errorf("IsLoopback(%q) = %v, want %v", tc.addr, got, tc.want)
		}
	}
}
