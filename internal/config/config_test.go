package config

import (
	"strings"
	"testing"
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
