package report

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"time"
)

// MaxTrendDays is the longest range of days one trend covers.
const MaxTrendDays = 400

// TrendDay is one city's counts over one local day, a row of a trend.
type TrendDay struct {
	Date     string `json:"date"`
	City     string `json:"city"`
	Ads      int    `json:"ads"`
	Profiles int    `json:"profiles"`
	Phones   int    `json:"phones"`
}

// Days returns the local days from through to (YYYY-MM-DD, both
// included), at most MaxTrendDays of them.
func Days(from, to string) ([]string, error) {
	f, err := time.Parse("2006-01-02", from)
	if err != nil {
		return nil, fmt.Errorf("from %q: want YYYY-MM-DD", from)
	}
	t, err := time.Parse("2006-01-02", to)
	if err != nil {
		return nil, fmt.Errorf("to %q: want YYYY-MM-DD", to)
	}
	if t.Before(f) {
		return nil, fmt.Errorf("to %s is before from %s", to, from)
	}
	var days []string
	for d := f; !d.After(t); d = d.AddDate(0, 0, 1) {
		if len(days) == MaxTrendDays {
			return nil, fmt.Errorf("%s to %s is more than %d days", from, to, MaxTrendDays)
		}
		days = append(days, d.Format("2006-01-02"))
	}
	return days, nil
}

// Trends counts ads, profiles and phones per local day of each city from
// through to: the rows of an analyst's chart, city by city, day by day.
func Trends(ctx context.Context, src Source, cities []string, from, to string) ([]TrendDay, error) {
	if len(cities) == 0 {
		return nil, fmt.Errorf("missing city")
	}
	days, err := Days(from, to)
	if err != nil {
		return nil, err
	}
	out := make([]TrendDay, 0, len(days)*len(cities))
	for _, city := range cities {
		for _, day := range days {
			s, err := src.Snapshot(ctx, city, day)
			if err != nil {
				return nil, fmt.Errorf("counting %s on %s: %w", city, day, err)
			}
			out = append(out, TrendDay{Date: day, City: city, Ads: s.Ads, Profiles: s.Profiles, Phones: s.Phones})
		}
	}
	return out, nil
}

// trendCSVHeader is the header line of a trend as CSV.
var trendCSVHeader = []string{"date", "city", "ads", "profiles", "phones"}

// WriteTrendCSV writes rows as CSV with the header
// date,city,ads,profiles,phones.
func WriteTrendCSV(w io.Writer, rows []TrendDay) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(trendCSVHeader); err != nil {
		return fmt.Errorf("writing trend csv: %w", err)
	}
	for _, r := range rows {
		rec := []string{r.Date, r.City, strconv.Itoa(r.Ads), strconv.Itoa(r.Profiles), strconv.Itoa(r.Phones)}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("writing trend csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("writing trend csv: %w", err)
	}
	return nil
}
