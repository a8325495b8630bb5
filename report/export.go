package report

import (
	"fmt"
	"time"

	"github.com/adwatch/adwatch/indexer"
	"github.com/adwatch/adwatch/internal/record"
)

// ExportedAd is one ad as exported: the ad, its phones in E.164, and its
// current profile and network.
type ExportedAd struct {
	record.Ad
	PhoneNumbers []string `json:"phones"`
	// PhoneDetails says of each phone whether it was obfuscated.
	PhoneDetails []record.Phone `json:"phone_details"`
	Profile      string         `json:"profile"`
	Network      string         `json:"network"`
}

// ParseFilter reads an export filter: a city, and posted times since and
// until in RFC 3339 (either may be empty).
func ParseFilter(city, since, until string) (indexer.Filter, error) {
	f := indexer.Filter{City: city}
	for _, p := range []struct {
		s string
		t *time.Time
	}{{since, &f.Since}, {until, &f.Until}} {
		if p.s == "" {
			continue
		}
		var err error
		if *p.t, err = time.Parse(time.RFC3339, p.s); err != nil {
			return f, fmt.Errorf("time %q: want RFC 3339: %w", p.s, err)
		}
	}
	return f, nil
}

// ExportAds calls fn with every ad x holds that f selects.
func ExportAds(x *indexer.Index, f indexer.Filter, fn func(ExportedAd) error) error {
	return x.Ads(f, func(a record.Ad) error {
		p := x.Linker.Profile(a.ID)
		return fn(ExportedAd{Ad: a, PhoneNumbers: a.PhoneNumbers(), PhoneDetails: a.Phones, Profile: p, Network: x.Linker.Network(p)})
	})
}
