// Package site describes a classifieds site in data, not code: where to
// start, which links are list pages and ad pages, and the CSS selectors
// that find each field of an ad. The crawler uses a Site to walk the site
// and the extractor uses the same Site to read the fields of an ad page.
package site

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/PuerkitoBio/goquery"
	"go.yaml.in/yaml/v3"
)

// Site is one site's description, loaded from configs/sites/NAME.yaml.
type Site struct {
	// Name identifies the site in ad ids and metrics.
	Name string `yaml:"name"`
	// BaseURL, when set, is the address the site is crawled at
	// ("http://127.0.0.1:8089"), and StartURLs and the URL patterns below
	// are written relative to it: a start URL is appended to it and a
	// pattern matches what follows it, from its first character. Without
	// it they are absolute URLs and patterns over whole URLs. The config's
	// site_base_urls replaces it (see SetBaseURL).
	BaseURL string `yaml:"base_url"`
	// StartURLs are where each crawl begins (see Starts).
	StartURLs []string `yaml:"start_urls"`
	// Allowed: the crawler visits only URLs matching one of these
	// regular expressions (this is what keeps it out of calendar traps).
	AllowedURLs []string `yaml:"allowed"`
	// ListPages match URLs of listing and pagination pages, whose links
	// are followed.
	ListPages []string `yaml:"list_pages"`
	// AdPages match URLs of ad pages, which are published.
	AdPages []string `yaml:"ad_pages"`
	// Timezone interprets posted times written without a zone.
	Timezone string `yaml:"timezone"`
	// UserAgent sent with every request.
	UserAgent string `yaml:"user_agent"`
	// Parallelism is the most requests in flight to one host.
	Parallelism int `yaml:"parallelism"`
	// Delay between requests to one host.
	Delay time.Duration `yaml:"delay"`
	// MaxBodyBytes caps a page or image download.
	MaxBodyBytes int `yaml:"max_body_bytes"`
	// MaxImageBytes caps one image download.
	MaxImageBytes int `yaml:"max_image_bytes"`
	// Retries of a request answered 429 or 5xx.
	Retries int `yaml:"retries"`
	// ImageHosts are the hosts images may be downloaded from
	// ("*.cdn.example" admits its subdomains); none means the site's own
	// hosts (see Hosts).
	ImageHosts []string `yaml:"image_hosts"`
	// MaxImages is the most images downloaded for one ad (default 20).
	MaxImages int `yaml:"max_images"`
	// ImageTimeout bounds each image download from its turn at the host
	// to its last byte (default 30s).
	ImageTimeout time.Duration `yaml:"image_timeout"`
	// AllowPrivateAddresses lets the crawler connect to loopback,
	// private, link-local and other non-public addresses: a simulator
	// or test server on 127.0.0.1. Without it such an address is refused
	// after DNS resolution, for pages, redirects and images.
	AllowPrivateAddresses bool `yaml:"allow_private_addresses"`
	// Fields are the selectors of an ad page.
	Fields Fields `yaml:"fields"`
	// Country is where the site's ads are, as an ISO 3166 alpha-2 code
	// ("GB"): phone numbers written without a country code are read there
	// first. Empty means the config's region.
	Country string `yaml:"country"`
	// CityCountries gives the country of ads from some cities, by the city
	// field as the site writes it (case does not matter), where it is not
	// Country: a site with pages for London and for New York.
	CityCountries map[string]string `yaml:"city_countries"`

	starts                      []string
	hosts                       []string
	allowed, listPages, adPages []*regexp.Regexp
	loc                         *time.Location
}

// Fields are the selectors of each field of an ad page.
type Fields struct {
	ID       Selector `yaml:"id"`
	Title    Selector `yaml:"title"`
	Body     Selector `yaml:"body"`
	PostedAt Selector `yaml:"posted_at"`
	City     Selector `yaml:"city"`
	Age      Selector `yaml:"age"`
	Poster   Selector `yaml:"poster"`
	Phones   Selector `yaml:"phones"`
	Images   Selector `yaml:"images"`
}

// Selector finds one field: a CSS selector, optionally an attribute to read
// instead of the text, optionally a regular expression whose first group
// (or whole match) is kept, and for times the layout to parse.
// With From "url" the regular expression is applied to the page URL.
type Selector struct {
	CSS    string `yaml:"css"`
	Attr   string `yaml:"attr"`
	Regexp string `yaml:"regexp"`
	Layout string `yaml:"layout"`
	From   string `yaml:"from"`

	re *regexp.Regexp
}

// LoadDir loads every *.yaml file of dir.
func LoadDir(dir string) ([]Site, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, fmt.Errorf("listing sites in %s: %w", dir, err)
	}
	var sites []Site
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("reading site: %w", err)
		}
		s, err := Parse(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		sites = append(sites, s)
	}
	return sites, nil
}

// Parse decodes a site description strictly, applies defaults and compiles
// its expressions.
func Parse(data []byte) (Site, error) {
	var s Site
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return Site{}, fmt.Errorf("decoding site: %w", err)
	}
	if err := s.compile(); err != nil {
		return Site{}, err
	}
	return s, nil
}

func (s *Site) compile() error {
	var errs []error
	if s.Name == "" || strings.ContainsAny(s.Name, " .*>:/") {
		errs = append(errs, fmt.Errorf("name %q must be a non-empty word without spaces, dots or slashes", s.Name))
	}
	if len(s.StartURLs) == 0 {
		errs = append(errs, errors.New("start_urls is empty"))
	}
	if len(s.AdPages) == 0 {
		errs = append(errs, errors.New("ad_pages is empty"))
	}
	if s.Parallelism == 0 {
		s.Parallelism = 2
	}
	if s.MaxBodyBytes == 0 {
		s.MaxBodyBytes = 5 << 20
	}
	if s.MaxImageBytes == 0 {
		s.MaxImageBytes = 10 << 20
	}
	if s.Retries == 0 {
		s.Retries = 4
	}
	if s.MaxImages == 0 {
		s.MaxImages = 20
	}
	if s.MaxImages < 0 {
		errs = append(errs, fmt.Errorf("max_images %d: want 0 (the default, 20) or more", s.MaxImages))
	}
	if s.ImageTimeout == 0 {
		s.ImageTimeout = 30 * time.Second
	}
	for _, h := range s.ImageHosts {
		if h == "" || strings.ContainsAny(h, "/: ") || strings.Contains(strings.TrimPrefix(h, "*."), "*") {
			errs = append(errs, fmt.Errorf("image_hosts %q: want a host name such as img.example or *.cdn.example", h))
		}
	}
	if s.UserAgent == "" {
		s.UserAgent = "adwatch/0.1 (research crawler; respects robots.txt)"
	}
	if s.Timezone == "" {
		s.Timezone = "UTC"
	}
	loc, err := time.LoadLocation(s.Timezone)
	if err != nil {
		errs = append(errs, fmt.Errorf("timezone: %w", err))
	}
	s.loc = loc
	if s.Country != "" {
		if c, ok := countryCode(s.Country); ok {
			s.Country = c
		} else {
			errs = append(errs, fmt.Errorf("country %q: want an ISO 3166 alpha-2 code such as GB", s.Country))
		}
	}
	cities := make(map[string]string, len(s.CityCountries))
	for city, country := range s.CityCountries {
		c, ok := countryCode(country)
		if !ok {
			errs = append(errs, fmt.Errorf("city_countries %q: country %q: want an ISO 3166 alpha-2 code such as GB", city, country))
			continue
		}
		cities[strings.ToLower(strings.TrimSpace(city))] = c
	}
	if len(cities) > 0 {
		s.CityCountries = cities
	}
	base, err := baseURL(s.BaseURL)
	if err != nil {
		errs = append(errs, err)
	}
	s.starts = nil
	for _, u := range s.StartURLs {
		if base != "" && strings.Contains(u, "://") {
			errs = append(errs, fmt.Errorf("start_urls %q: with base_url, start URLs are paths after it", u))
		}
		s.starts = append(s.starts, base+u)
	}
	s.hosts = nil
	for _, u := range append([]string{base}, s.starts...) {
		if p, err := url.Parse(u); err == nil && p.Hostname() != "" && !slices.Contains(s.hosts, strings.ToLower(p.Hostname())) {
			s.hosts = append(s.hosts, strings.ToLower(p.Hostname()))
		}
	}
	compileAll := func(name string, exprs []string) []*regexp.Regexp {
		var out []*regexp.Regexp
		for _, e := range exprs {
			if base != "" && strings.HasPrefix(e, "^") {
				errs = append(errs, fmt.Errorf("%s %q: with base_url, a pattern matches from the end of it; drop the leading ^", name, e))
				continue
			}
			re, err := regexp.Compile(e)
			if err == nil && base != "" {
				re, err = regexp.Compile("^" + regexp.QuoteMeta(base) + "(?:" + e + ")")
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("%s %q: %w", name, e, err))
				continue
			}
			out = append(out, re)
		}
		return out
	}
	s.allowed = compileAll("allowed", s.AllowedURLs)
	s.listPages = compileAll("list_pages", s.ListPages)
	s.adPages = compileAll("ad_pages", s.AdPages)
	for name, f := range map[string]*Selector{
		"id": &s.Fields.ID, "title": &s.Fields.Title, "body": &s.Fields.Body,
		"posted_at": &s.Fields.PostedAt, "city": &s.Fields.City, "age": &s.Fields.Age,
		"poster": &s.Fields.Poster, "phones": &s.Fields.Phones, "images": &s.Fields.Images,
	} {
		if err := f.compile(); err != nil {
			errs = append(errs, fmt.Errorf("fields.%s: %w", name, err))
		}
	}
	if s.Fields.ID.CSS == "" && s.Fields.ID.From != "url" {
		errs = append(errs, errors.New("fields.id: needs css or from: url"))
	}
	return errors.Join(errs...)
}

// baseURL checks a base_url and returns it without a trailing slash ("" for
// none).
func baseURL(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("base_url %q: want an http or https URL such as http://127.0.0.1:8089", raw)
	}
	return strings.TrimRight(raw, "/"), nil
}

// SetBaseURL moves a site described with base_url to another base URL;
// its start URLs and patterns then apply under the new one. A site
// described with absolute URLs has no base to replace, which is an error.
func (s *Site) SetBaseURL(base string) error {
	if s.BaseURL == "" {
		return fmt.Errorf("site %s: no base_url in its description, so its URLs cannot be moved to %s", s.Name, base)
	}
	moved := *s
	moved.BaseURL = base
	if err := moved.compile(); err != nil {
		return fmt.Errorf("site %s: %w", s.Name, err)
	}
	*s = moved
	return nil
}

// Starts returns the URLs each crawl begins at: StartURLs, under BaseURL
// when the site has one.
func (s *Site) Starts() []string { return s.starts }

// Hosts returns the site's own hosts (without port): those of BaseURL and
// of its start URLs. Pages are fetched only from them.
func (s *Site) Hosts() []string { return s.hosts }

// ImageHostList returns the hosts images may come from: ImageHosts, or the
// site's own hosts when it lists none.
func (s *Site) ImageHostList() []string {
	if len(s.ImageHosts) > 0 {
		return s.ImageHosts
	}
	return s.hosts
}

func (f *Selector) compile() error {
	if f.From != "" && f.From != "url" {
		return fmt.Errorf("from %q: only \"url\" is known", f.From)
	}
	if f.From == "url" && f.Regexp == "" {
		return errors.New("from: url needs a regexp")
	}
	if f.CSS != "" {
		if err := checkCSS(f.CSS); err != nil {
			return err
		}
	}
	if f.Regexp != "" {
		re, err := regexp.Compile(f.Regexp)
		if err != nil {
			return fmt.Errorf("regexp: %w", err)
		}
		f.re = re
	}
	return nil
}

// checkCSS reports a selector that cascadia cannot compile.
func checkCSS(css string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("css %q: %v", css, r)
		}
	}()
	doc, _ := goquery.NewDocumentFromReader(strings.NewReader("<p></p>"))
	doc.Find(css)
	return nil
}

// Allowed reports whether the crawler may visit u.
func (s *Site) Allowed(u string) bool { return matchAny(s.allowed, u) || len(s.allowed) == 0 }

// IsListPage reports whether u is a listing or pagination page.
func (s *Site) IsListPage(u string) bool { return matchAny(s.listPages, u) }

// IsAdPage reports whether u is an ad page.
func (s *Site) IsAdPage(u string) bool { return matchAny(s.adPages, u) }

// AllowedPatterns returns the compiled allowed expressions.
func (s *Site) AllowedPatterns() []*regexp.Regexp { return s.allowed }

// Location is the zone for posted times written without one.
func (s *Site) Location() *time.Location {
	if s.loc == nil {
		return time.UTC
	}
	return s.loc
}

func matchAny(res []*regexp.Regexp, u string) bool {
	for _, re := range res {
		if re.MatchString(u) {
			return true
		}
	}
	return false
}

// Values returns every value of the field f in doc (the page at pageURL).
func (f *Selector) Values(doc *goquery.Document, pageURL string) []string {
	var raw []string
	switch {
	case f.From == "url":
		raw = []string{pageURL}
	case f.CSS == "":
		return nil
	default:
		doc.Find(f.CSS).Each(func(_ int, sel *goquery.Selection) {
			if f.Attr != "" {
				if v, ok := sel.Attr(f.Attr); ok {
					raw = append(raw, v)
				}
				return
			}
			raw = append(raw, Text(sel))
		})
	}
	var out []string
	for _, v := range raw {
		v = strings.TrimSpace(v)
		if f.re != nil {
			m := f.re.FindStringSubmatch(v)
			if m == nil {
				continue
			}
			v = m[0]
			if len(m) > 1 {
				v = m[1]
			}
		}
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// Value returns the first value of f, or "".
func (f *Selector) Value(doc *goquery.Document, pageURL string) string {
	if v := f.Values(doc, pageURL); len(v) > 0 {
		return v[0]
	}
	return ""
}

// Time parses the posted time: the first value of the posted_at field
// with its layout (RFC 3339 when none), in the site's zone when the layout
// has none. Runs of spaces are one space and "am"/"pm" are read in either
// case. The layout "relative" reads "3 hours ago", "an hour ago",
// "yesterday" or "just now" against the fetch time.
func (s *Site) Time(doc *goquery.Document, pageURL string, fetched time.Time) (time.Time, error) {
	v := strings.Join(strings.Fields(s.Fields.PostedAt.Value(doc, pageURL)), " ")
	if v == "" {
		return time.Time{}, errors.New("posted time not found")
	}
	layout := s.Fields.PostedAt.Layout
	switch layout {
	case "":
		layout = time.RFC3339
	case "relative":
		return relative(v, fetched)
	}
	if strings.Contains(layout, "PM") {
		v = ampm.ReplaceAllStringFunc(v, strings.ToUpper)
	}
	t, err := time.ParseInLocation(layout, v, s.Location())
	if err != nil {
		return time.Time{}, fmt.Errorf("parsing posted time %q: %w", v, err)
	}
	return t, nil
}

var (
	ampm = regexp.MustCompile(`(?i)\b[ap]m\b`)
	ago  = regexp.MustCompile(`(?i)\b(\d+|an?|one)\s*(sec|second|min|minute|hr|hour|day|week)s?\s+ago\b`)
)

// relative reads a posted time written relative to the fetch time.
func relative(v string, fetched time.Time) (time.Time, error) {
	if fetched.IsZero() {
		return time.Time{}, errors.New("a relative posted time needs the fetch time")
	}
	low := strings.ToLower(v)
	switch {
	case strings.Contains(low, "just now"), strings.Contains(low, "moments ago"):
		return fetched, nil
	case strings.Contains(low, "yesterday"):
		return fetched.Add(-24 * time.Hour), nil
	}
	m := ago.FindStringSubmatch(v)
	if m == nil {
		return time.Time{}, fmt.Errorf("parsing relative posted time %q: want \"N minutes/hours/days ago\"", v)
	}
	n, err := strconv.Atoi(m[1])
	if err != nil {
		n = 1 // "an hour ago"
	}
	unit := map[string]time.Duration{"sec": time.Second, "second": time.Second, "min": time.Minute, "minute": time.Minute,
		"hr": time.Hour, "hour": time.Hour, "day": 24 * time.Hour, "week": 7 * 24 * time.Hour}[strings.ToLower(m[2])]
	return fetched.Add(-time.Duration(n) * unit), nil
}

// Text returns the text of sel with <br> and block elements as line breaks,
// so that words of separate lines do not run together.
func Text(sel *goquery.Selection) string {
	var b strings.Builder
	var walk func(*goquery.Selection)
	walk = func(s *goquery.Selection) {
		s.Contents().Each(func(_ int, c *goquery.Selection) {
			if goquery.NodeName(c) == "#text" {
				b.WriteString(c.Text())
				return
			}
			switch goquery.NodeName(c) {
			case "br", "p", "div", "li", "tr", "h1", "h2", "h3":
				b.WriteString("\n")
			case "script", "style":
				return
			}
			walk(c)
		})
	}
	walk(sel)
	return b.String()
}

// countryCode normalizes an ISO 3166 alpha-2 code: two ASCII letters, upper
// case.
func countryCode(c string) (string, bool) {
	c = strings.ToUpper(strings.TrimSpace(c))
	if len(c) != 2 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z' {
		return "", false
	}
	return c, true
}

// CountryOf returns the country of an ad of the site from city (the city
// field of the ad): its city_countries entry, else Country, else fallback
// (the config's region).
func (s *Site) CountryOf(city, fallback string) string {
	if c, ok := s.CityCountries[strings.ToLower(strings.TrimSpace(city))]; ok && city != "" {
		return c
	}
	if s.Country != "" {
		return s.Country
	}
	return fallback
}
