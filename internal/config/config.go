// Package config loads adwatch's configuration once into typed structs:
// strict YAML (unknown keys are errors), defaults applied, then validated.
package config

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/adwatch/adwatch/internal/site"
)

// Config is the whole of adwatch's configuration.
type Config struct {
	// Region is the default phone region (ISO 3166 code), US by default.
	Region string `yaml:"region"`
	// NATS says where the message bus is.
	NATS NATS `yaml:"nats"`
	// Cities lists the cities adwatch reports on, with their time zones.
	Cities []City `yaml:"cities"`
	// DefaultTimezone is used for a city not listed in Cities.
	DefaultTimezone string `yaml:"default_timezone"`
	// SitesDir holds one YAML file per site, relative to the config file.
	SitesDir string `yaml:"sites_dir"`
	// SiteBaseURLs moves sites to another address, by site name: each
	// replaces the base_url of that site's description (a mirror, a
	// staging copy, a simulator on another port). Empty: every site is
	// crawled where its description says.
	SiteBaseURLs map[string]string `yaml:"site_base_urls"`
	// IndicatorsDir holds the indicator term lists, relative to the config file.
	IndicatorsDir string `yaml:"indicators_dir"`
	// AlertsFile holds the alert rules and digest subscriptions, relative
	// to the config file.
	AlertsFile string `yaml:"alerts_file"`
	// Crawl sets the crawler's schedule.
	Crawl Crawl `yaml:"crawl"`
	// Extract sets the extractor's limits.
	Extract Extract `yaml:"extract"`
	// Linking sets how ads are linked into profiles and networks.
	Linking Linking `yaml:"linking"`

	// Serve sets the web UI and API.
	Serve Serve `yaml:"serve"`
	// Audit sets the audit trail of what investigators do.
	Audit Audit `yaml:"audit"`
	// Limits caps the message store, stream by stream.
	Limits Limits `yaml:"limits"`
	// Retention sets how long captured ads are kept.
	Retention Retention `yaml:"retention"`
	// Metrics sets where a process serves its Prometheus metrics.
	Metrics Metrics `yaml:"metrics"`

	// Sites are the loaded site descriptions from SitesDir.
	Sites []site.Site `yaml:"-"`
	// Dir is the directory of the config file.
	Dir string `yaml:"-"`
}

// NATS says where the message bus is.
type NATS struct {
	// URL of an external NATS server or cluster. Empty means adwatch run
	// starts an embedded server with JetStream under the data directory.
	URL string `yaml:"url"`
	// Replicas of each stream on an external cluster (1 when embedded).
	Replicas int `yaml:"replicas"`
	// Credentials for nats.url; each may instead come from the
	// environment (ADWATCH_NATS_TOKEN, ADWATCH_NATS_USER,
	// ADWATCH_NATS_PASSWORD, ADWATCH_NATS_CREDS), which keeps secrets out
	// of the file. The embedded server needs none of them: it takes a
	// token adwatch generates into the data dir (owner-only).
	Token    string `yaml:"token"`
	User     string `yaml:"user"`
	Password string `yaml:"password"`
	// CredsFile is a NATS credentials file (JWT and NKey seed).
	CredsFile string `yaml:"creds"`
}

// City is a city adwatch reports on.
type City struct {
	Name     string `yaml:"name"`
	Timezone string `yaml:"timezone"`
}

// Crawl sets the crawler's schedule.
type Crawl struct {
	// Interval between crawls when adwatch run monitors.
	Interval time.Duration `yaml:"interval"`
}

// Extract sets the extractor's limits.
type Extract struct {
	// MaxImagePixels rejects images larger than this before decoding.
	MaxImagePixels int `yaml:"max_image_pixels"`
}

// Linking sets how ads are linked into profiles and networks.
type Linking struct {
	// PHashThreshold is the largest Hamming distance between two photos'
	// perceptual hashes that still counts as the same photo.
	PHashThreshold int `yaml:"phash_threshold"`
	// MaxProfilesPerLink: a phone shared by more profiles than this (an
	// agency line, a generic number) stops joining profiles into networks.
	MaxProfilesPerLink int `yaml:"max_profiles_per_link"`
}

// Serve sets the web UI and API.
type Serve struct {
	// Addr to listen on. A loopback address unless TLS or a trusted proxy
	// is configured (and, when serving, accounts exist).
	Addr string `yaml:"addr"`
	// PublicURL is the address users open (https://adwatch.unit.example):
	// digests link to it and its host is one of the server's names.
	// Default: http:// and Addr.
	PublicURL string `yaml:"public_url"`
	// Names are further host names the server answers to, besides
	// loopback, localhost and PublicURL's host. A request naming any other
	// host is refused (a page elsewhere rebinding its name to this server).
	Names []string `yaml:"names"`
	// TLSCert and TLSKey are PEM files; with both set adwatch serves HTTPS
	// and may bind beyond loopback.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// BehindProxy is the address (IP) of the trusted reverse proxy that
	// terminates TLS in front of adwatch; with it set adwatch may bind
	// beyond loopback and reads the client's address from that proxy's
	// X-Forwarded-For.
	BehindProxy string `yaml:"behind_proxy"`
	// Banner is the use notice shown at login.
	Banner string `yaml:"banner"`
}

// DefaultBanner is the use notice shown at login when serve.banner is
// empty.
const DefaultBanner = "This system holds investigative data about people who may be victims of trafficking. " +
	"Use it only for authorised casework. Every search, view, export and change is recorded with your name."

// BeyondLoopback reports whether the configuration allows binding to a
// non-loopback address: TLS is configured or a trusted proxy is named.
func (s Serve) BeyondLoopback() bool {
	return (s.TLSCert != "" && s.TLSKey != "") || s.BehindProxy != ""
}

// Retention sets how long captured ads are kept. An ad whose latest
// capture is older than Days is purged (its pages, images and index
// entry), unless its profile is under an open alert or in a case. Zero
// (the default) keeps everything.
type Retention struct {
	Days int `yaml:"days"`
	// Every is how often the purge runs while the index role runs; 24h by
	// default.
	Every time.Duration `yaml:"every"`
}

// Limits caps the streams and the image store, in bytes (0: no limit).
// A full stream refuses new messages rather than dropping old ones, and
// the crawler pauses until there is room.
type Limits struct {
	PagesBytes  int64 `yaml:"pages_bytes"`
	AdsBytes    int64 `yaml:"ads_bytes"`
	ImagesBytes int64 `yaml:"images_bytes"`
	DeadBytes   int64 `yaml:"dead_bytes"`
}

// Metrics sets where a process serves its Prometheus metrics.
type Metrics struct {
	// Addr (host:port), when set, is where every adwatch process serves
	// GET /metrics alone, whatever its role: the scrape address of a
	// role process (crawl, extract, ...), which has no web server. It
	// shows counts, never an ad, a phone or a URL, so it may listen beyond
	// loopback (":9464" in a container). Empty: only serve's web server
	// shows /metrics. The role commands' --metrics-addr overrides it.
	Addr string `yaml:"addr"`
}

// MinAuditRetention is the shortest audit.retention allowed: one year
// (audit.MinRetention; config does not import the audit package).
const MinAuditRetention = 365 * 24 * time.Hour

// Audit sets the audit trail (stream ADWATCH_AUDIT).
type Audit struct {
	// Retention is how long audit entries are kept: one year by default,
	// never less.
	Retention time.Duration `yaml:"retention"`
}

// Default returns a configuration with every default applied and no sites.
func Default() Config {
	c := Config{}
	c.applyDefaults()
	return c
}

func (c *Config) applyDefaults() {
	if c.Region == "" {
		c.Region = "US"
	}
	if c.NATS.Replicas == 0 {
		c.NATS.Replicas = 1
	}
	for _, e := range []struct {
		field *string
		env   string
	}{{&c.NATS.Token, "ADWATCH_NATS_TOKEN"}, {&c.NATS.User, "ADWATCH_NATS_USER"}, {&c.NATS.Password, "ADWATCH_NATS_PASSWORD"}, {&c.NATS.CredsFile, "ADWATCH_NATS_CREDS"}} {
		if v := os.Getenv(e.env); v != "" && *e.field == "" {
			*e.field = v
		}
	}
	if c.DefaultTimezone == "" {
		c.DefaultTimezone = "America/Los_Angeles"
	}
	if c.SitesDir == "" {
		c.SitesDir = "sites"
	}
	if c.IndicatorsDir == "" {
		c.IndicatorsDir = "indicators"
	}
	if c.AlertsFile == "" {
		c.AlertsFile = "alerts.yaml"
	}
	if c.Crawl.Interval == 0 {
		c.Crawl.Interval = 6 * time.Hour
	}
	if c.Extract.MaxImagePixels == 0 {
		c.Extract.MaxImagePixels = 40_000_000
	}
	if c.Linking.PHashThreshold == 0 {
		c.Linking.PHashThreshold = 8
	}
	if c.Linking.MaxProfilesPerLink == 0 {
		c.Linking.MaxProfilesPerLink = 25
	}
	if c.Serve.Addr == "" {
		c.Serve.Addr = "127.0.0.1:8080"
	}
	if c.Serve.Banner == "" {
		c.Serve.Banner = DefaultBanner
	}
	if c.Audit.Retention == 0 {
		c.Audit.Retention = MinAuditRetention
	}
	if c.Retention.Every == 0 {
		c.Retention.Every = 24 * time.Hour
	}
}

// Validate reports every problem of c at once.
func (c *Config) Validate() error {
	var errs []error
	if _, err := time.LoadLocation(c.DefaultTimezone); err != nil {
		errs = append(errs, fmt.Errorf("default_timezone: %w", err))
	}
	seen := map[string]bool{}
	for i, city := range c.Cities {
		if city.Name == "" {
			errs = append(errs, fmt.Errorf("cities[%d]: name is empty", i))
		}
		if seen[strings.ToLower(city.Name)] {
			errs = append(errs, fmt.Errorf("cities[%d]: %q listed twice", i, city.Name))
		}
		seen[strings.ToLower(city.Name)] = true
		if _, err := time.LoadLocation(city.Timezone); err != nil || city.Timezone == "" {
			errs = append(errs, fmt.Errorf("cities[%d] %q: timezone %q is not a valid IANA zone", i, city.Name, city.Timezone))
		}
	}
	if c.Linking.PHashThreshold < 0 || c.Linking.PHashThreshold > 32 {
		errs = append(errs, fmt.Errorf("linking.phash_threshold: %d is outside 0..32", c.Linking.PHashThreshold))
	}
	if c.Crawl.Interval < time.Minute {
		errs = append(errs, fmt.Errorf("crawl.interval: %s is shorter than a minute", c.Crawl.Interval))
	}
	if c.Audit.Retention < MinAuditRetention {
		errs = append(errs, fmt.Errorf("audit.retention: %s is shorter than a year (%s)", c.Audit.Retention, MinAuditRetention))
	}
	if c.Retention.Days < 0 || c.Retention.Every < 0 {
		errs = append(errs, errors.New("retention: days and every cannot be below zero"))
	}
	if l := c.Limits; l.PagesBytes < 0 || l.AdsBytes < 0 || l.ImagesBytes < 0 || l.DeadBytes < 0 {
		errs = append(errs, errors.New("limits: a limit below zero"))
	}
	if a := c.Metrics.Addr; a != "" {
		if _, _, err := net.SplitHostPort(a); err != nil {
			errs = append(errs, fmt.Errorf("metrics.addr: %q is not host:port: %w", a, err))
		}
	}
	if (c.Serve.TLSCert == "") != (c.Serve.TLSKey == "") {
		errs = append(errs, errors.New("serve: tls_cert and tls_key go together"))
	}
	if p := c.Serve.BehindProxy; p != "" && net.ParseIP(p) == nil {
		errs = append(errs, fmt.Errorf("serve.behind_proxy: %q is not an IP address", p))
	}
	if u := c.Serve.PublicURL; u != "" {
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			errs = append(errs, fmt.Errorf("serve.public_url: %q is not an http(s) URL", u))
		}
	}
	if !c.Serve.BeyondLoopback() && !IsLoopback(c.Serve.Addr) {
		errs = append(errs, fmt.Errorf("serve.addr: %q is not a loopback address; serving beyond loopback needs serve.tls_cert and serve.tls_key, or serve.behind_proxy", c.Serve.Addr))
	}
	return errors.Join(errs...)
}

// IsLoopback reports whether addr (host:port) binds only to loopback: a
// loopback address, or a name that resolves to loopback addresses only
// (localhost). A name is resolved, not read as text: "127.example" is
// not loopback because it begins with 127.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	host = strings.Trim(host, "[]")
	if host == "" {
		return false // ":8080" listens on every interface
	}
	if ip := net.ParseIP(host); ip != nil {
		return ip.IsLoopback()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil || len(ips) == 0 {
		return false
	}
	for _, ip := range ips {
		if !ip.IP.IsLoopback() {
			return false
		}
	}
	return true
}

// CityLocation is Location without the error: the default zone when the
// city's cannot be loaded (Validate has checked them).
func (c *Config) CityLocation(city string) *time.Location {
	loc, err := c.Location(city)
	if err != nil {
		return time.UTC
	}
	return loc
}

// Location returns the time zone of the named city (case-insensitive), or
// the default time zone for a city not listed.
func (c *Config) Location(city string) (*time.Location, error) {
	tz := c.DefaultTimezone
	for _, ct := range c.Cities {
		if strings.EqualFold(ct.Name, city) {
			tz = ct.Timezone
		}
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("loading time zone of %s: %w", city, err)
	}
	return loc, nil
}

// Parse decodes a configuration strictly, applies defaults and validates it.
// It does not load the site files.
func Parse(data []byte) (Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("decoding config: %w", err)
	}
	c.applyDefaults()
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("validating config: %w", err)
	}
	return c, nil
}

// Load reads the config file at path, then every site file in its SitesDir.
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("reading config: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	c.Dir = filepath.Dir(path)
	c.SitesDir = c.resolve(c.SitesDir)
	c.IndicatorsDir = c.resolve(c.IndicatorsDir)
	c.AlertsFile = c.resolve(c.AlertsFile)
	sites, err := site.LoadDir(c.SitesDir)
	if err != nil {
		return Config{}, err
	}
	sort.Slice(sites, func(i, j int) bool { return sites[i].Name < sites[j].Name })
	if err := moveSites(sites, c.SiteBaseURLs); err != nil {
		return Config{}, fmt.Errorf("%s: site_base_urls: %w", path, err)
	}
	c.Sites = sites
	return c, nil
}

// moveSites gives each site named in baseURLs its new base URL.
func moveSites(sites []site.Site, baseURLs map[string]string) error {
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(baseURLs)) {
		i := slices.IndexFunc(sites, func(s site.Site) bool { return s.Name == name })
		if i < 0 {
			errs = append(errs, fmt.Errorf("no site named %q", name))
			continue
		}
		if err := sites[i].SetBaseURL(baseURLs[name]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (c *Config) resolve(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.Dir, p)
}

// WebURL is the address users open: serve.public_url, else http:// and
// serve.addr. It never ends in a slash.
func (c *Config) WebURL() string {
	if c.Serve.PublicURL != "" {
		return strings.TrimRight(c.Serve.PublicURL, "/")
	}
	return "http://" + c.Serve.Addr
}
