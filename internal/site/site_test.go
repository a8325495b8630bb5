package site

import (
	"regexp"
	"strings"
	"testing"
)

const underBase = `name: rel
base_url: http://127.0.0.1:8089/
start_urls: ["/"]
allowed: ['/$', '/c/[a-z]+/$', '/ad/\d+$']
list_pages: ['/$', '/c/[a-z]+/$']
ad_pages: ['/ad/\d+$']
fields: {id: {css: article, attr: data-id}}
`

// TestBaseURL: with base_url, start URLs and patterns apply under it, and
// SetBaseURL moves them all.
func TestBaseURL(t *testing.T) {
	s, err := Parse([]byte(underBase))
	if err != nil {
		t.Fatal(err)
	}
	check := func(base string) {
		t.Helper()
		if got, want := strings.Join(s.Starts(), " "), base+"/"; got != want {
			t.Errorf("Starts() = %q, want %q", got, want)
		}
		for _, tc := range []struct {
			url               string
			allowed, list, ad bool
		}{
			{base + "/", true, true, false},
			{base + "/c/oakland/", true, true, false},
			{base + "/ad/42", true, false, true},
			{base + "/ad/42/calendar", false, false, false},
			{base + "/x/ad/42", false, false, false},
			{"http://elsewhere.example/ad/42", false, false, false},
		} {
			if got := [3]bool{s.Allowed(tc.url), s.IsListPage(tc.url), s.IsAdPage(tc.url)}; got != [3]bool{tc.allowed, tc.list, tc.ad} {
				t.Errorf("%s: allowed, list, ad = %v, want %v", tc.url, got, [3]bool{tc.allowed, tc.list, tc.ad})
			}
		}
		for _, re := range s.AllowedPatterns() {
			if !strings.HasPrefix(re.String(), "^"+regexp.QuoteMeta(base)) {
				t.Errorf("allowed pattern %s is not anchored at the base URL (colly filters whole URLs)", re)
			}
		}
	}
	check("http://127.0.0.1:8089")
	if err := s.SetBaseURL("https://mirror.example/classifieds"); err != nil {
		t.Fatal(err)
	}
	if s.BaseURL != "https://mirror.example/classifieds" {
		t.Errorf("BaseURL = %q", s.BaseURL)
	}
	check("https://mirror.example/classifieds")
}

// TestAbsoluteURLs: a description without base_url keeps absolute start
// URLs and patterns over whole URLs, and cannot be moved.
func TestAbsoluteURLs(t *testing.T) {
	s, err := Parse([]byte(`name: abs
start_urls: ["http://old.example/escorts/"]
allowed: ['^http://old\.example/']
list_pages: ['/escorts/(\?p=\d+)?$']
ad_pages: ['/post/\d+$']
fields: {id: {from: url, regexp: '/post/(\d+)$'}}
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.Starts(), " "); got != "http://old.example/escorts/" {
		t.Errorf("Starts() = %q", got)
	}
	if !s.Allowed("http://old.example/post/7") || !s.IsAdPage("http://old.example/post/7") || s.Allowed("http://new.example/post/7") {
		t.Error("absolute patterns do not match whole URLs")
	}
	if err := s.SetBaseURL("http://127.0.0.1:1"); err == nil || !strings.Contains(err.Error(), "no base_url") {
		t.Errorf("SetBaseURL on a site without base_url: %v, want an error", err)
	}
}

func TestParseBadBaseURL(t *testing.T) {
	for _, tc := range []struct{ replace, with, want string }{
		{"base_url: http://127.0.0.1:8089/", "base_url: 127.0.0.1:8089", "want an http or https URL"},
		{"base_url: http://127.0.0.1:8089/", "base_url: ftp://h/", "want an http or https URL"},
		{`start_urls: ["/"]`, `start_urls: ["http://127.0.0.1:8089/"]`, "start URLs are paths after it"},
		{`ad_pages: ['/ad/\d+$']`, `ad_pages: ['^/ad/\d+$']`, "drop the leading ^"},
		{`ad_pages: ['/ad/\d+$']`, `ad_pages: ['/ad/(\d+$']`, "missing closing )"},
	} {
		_, err := Parse([]byte(strings.Replace(underBase, tc.replace, tc.with, 1)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.with, err, tc.want)
		}
	}
	s, err := Parse([]byte(underBase))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetBaseURL("not a url"); err == nil || s.BaseURL != "http://127.0.0.1:8089/" {
		t.Errorf("SetBaseURL(bad) = %v, base %q; want an error and the site unchanged", err, s.BaseURL)
	}
}

// TestFetchLimits: the fields that bound fetching, with their defaults.
func TestFetchLimits(t *testing.T) {
	for _, tc := range []struct {
		name, extra     string
		hosts, imgHosts string
		maxImages       int
		timeout         string
		private         bool
	}{
		{"defaults", "", "127.0.0.1", "127.0.0.1", 20, "30s", false},
		{"set", "image_hosts: [img.example, '*.cdn.example']\nmax_images: 5\nimage_timeout: 2s\nallow_private_addresses: true\n",
			"127.0.0.1", "img.example *.cdn.example", 5, "2s", true},
	} {
		s, err := Parse([]byte(underBase + tc.extra))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got := []string{strings.Join(s.Hosts(), " "), strings.Join(s.ImageHostList(), " "), s.ImageTimeout.String()}
		if want := []string{tc.hosts, tc.imgHosts, tc.timeout}; strings.Join(got, "|") != strings.Join(want, "|") || s.MaxImages != tc.maxImages || s.AllowPrivateAddresses != tc.private {
			t.Errorf("%s: hosts, image hosts, timeout = %q, max_images %d, private %v; want %q, %d, %v", tc.name, got, s.MaxImages, s.AllowPrivateAddresses, want, tc.maxImages, tc.private)
		}
	}
	s, err := Parse([]byte(underBase))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetBaseURL("https://Mirror.example:8443/x"); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.ImageHostList(), " "); got != "mirror.example" {
		t.Errorf("image hosts after SetBaseURL: %q, want mirror.example", got)
	}
	for _, tc := range []struct{ extra, want string }{
		{"image_hosts: ['http://img.example/']\n", "want a host name"},
		{"image_hosts: ['img.*.example']\n", "want a host name"},
		{"max_images: -1\n", "max_images -1"},
	} {
		if _, err := Parse([]byte(underBase + tc.extra)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want an error containing %q", tc.extra, err, tc.want)
		}
	}
}

// TestCountry: country and city_countries are normalized ISO codes, a city
// overrides the site, and an empty country falls back to the region.
func TestCountry(t *testing.T) {
	s, err := Parse([]byte(underBase + "country: gb\ncity_countries: {\"New York\": us, Sydney: AU}\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ city, want string }{
		{"London", "GB"}, {"new york", "US"}, {" Sydney ", "AU"}, {"", "GB"},
	} {
		if got := s.CountryOf(tc.city, "US"); got != tc.want {
			t.Errorf("CountryOf(%q) = %q, want %q", tc.city, got, tc.want)
		}
	}
	plain, err := Parse([]byte(underBase))
	if err != nil {
		t.Fatal(err)
	}
	if got := plain.CountryOf("London", "CA"); got != "CA" {
		t.Errorf("CountryOf without a country = %q, want the region CA", got)
	}
	for _, bad := range []string{"country: GBR\n", "country: \"4\"\n", "city_countries: {Paris: France}\n"} {
		if _, err := Parse([]byte(underBase + bad)); err == nil || !strings.Contains(err.Error(), "ISO 3166") {
			t.Errorf("%q: %v, want an ISO 3166 error", bad, err)
		}
	}
}
