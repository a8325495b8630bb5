package record

import (
	"math"
	"time"
)

// Digest is one unit's digest, queued on the outbox for delivery.
type Digest struct {
	ID     string      `json:"id"`
	Unit   string      `json:"unit"`
	Since  time.Time   `json:"since"`
	Until  time.Time   `json:"until"`
	Total  int         `json:"total"`
	Counts []RuleCount `json:"counts"`
	Alerts []Alert     `json:"alerts"`
	// Snapshots are the DA's table for each of the unit's cities.
	Snapshots  []CityComparison `json:"snapshots"`
	WebURL     string           `json:"web_url"`
	Recipients []string         `json:"recipients,omitempty"`
	Webhook    string           `json:"webhook,omitempty"`
	Format     string           `json:"webhook_format,omitempty"`
}

// RuleCount is how many new alerts one rule raised.
type RuleCount struct {
	Rule     string `json:"rule"`
	Severity string `json:"severity"`
	Count    int    `json:"count"`
}

// CityComparison is a city's 24 hours against the same weekday a year before.
type CityComparison struct {
	City         string  `json:"city"`
	Date         string  `json:"date"`
	LastYear     string  `json:"last_year"`
	Ads          int     `json:"ads"`
	AdsPrev      int     `json:"ads_prev"`
	Profiles     int     `json:"profiles"`
	ProfilesPrev int     `json:"profiles_prev"`
	AdsPct       float64 `json:"ads_change_pct"`
	ProfilesPct  float64 `json:"profiles_change_pct"`
}

// PercentChange is the change from prev to cur in percent, rounded to one
// decimal, as every year-over-year table shows it (the DA's "16.6%
// increase"); 0 when prev is 0.
func PercentChange(cur, prev int) float64 {
	if prev == 0 {
		return 0
	}
	return math.Round(float64(cur-prev)/float64(prev)*1000) / 10
}
