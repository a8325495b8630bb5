// Package report turns the index into what analysts and units read: the
// DA's snapshot of one city over one local day, the year-over-year
// comparison of two such days, and exports of ads. The web API, the
// command-line read commands and the digests all use it, so a figure is
// computed one way wherever it is shown.
package report

import (
	"errors"
	"fmt"
	"time"

	"github.com/adwatch/adwatch/indexer"
	"github.com/adwatch/adwatch/internal/config"
)

// Snapshot is the DA's 24-hour count for one city: the ads posted from
// local midnight to the next, the distinct profiles among them and their
// distinct phone numbers.
type Snapshot struct {
	City     string    `json:"city"`
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	Ads      int       `json:"ads"`
	Profiles int       `json:"profiles"`
	Phones   int       `json:"phones"`
}

// Window is the 24 hours of date (YYYY-MM-DD) in city's time zone, from
// local midnight to the next.
func Window(cfg *config.Config, city, date string) (time.Time, time.Time, error) {
	if city == "" {
		return time.Time{}, time.Time{}, errors.New("missing city")
	}
	loc, err := cfg.Location(city)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	from, err := time.ParseInLocation("2006-01-02", date, loc)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("date %q: want YYYY-MM-DD", date)
	}
	return from, from.AddDate(0, 0, 1), nil
}

// TakeSnapshot counts what x holds for city over the 24 hours of date
// (YYYY-MM-DD) in the city's time zone.
func TakeSnapshot(cfg *config.Config, x *indexer.Index, city, date string) (Snapshot, error) {
	from, to, err := Window(cfg, city, date)
	if err != nil {
		return Snapshot{}, err
	}
	c, err := x.CountPosted(city, from, to)
	if err != nil {
		return Snapshot{}, err
	}
	return Snapshot{City: city, From: from, To: to, Ads: c.Ads, Profiles: c.Profiles, Phones: c.Phones}, nil
}
