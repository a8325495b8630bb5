package report

import "github.com/adwatch/adwatch/internal/record"

// Change is one row of the year-over-year table.
type Change struct {
	Current   int     `json:"current"`
	Previous  int     `json:"previous"`
	ChangePct float64 `json:"change_pct"`
}

// NewChange is the row for cur against prev.
func NewChange(cur, prev int) Change {
	return Change{Current: cur, Previous: prev, ChangePct: record.PercentChange(cur, prev)}
}

// Comparison is the DA's year-over-year table.
type Comparison struct {
	City     string   `json:"city"`
	Ads      Change   `json:"ads"`
	Profiles Change   `json:"profiles"`
	Current  Snapshot `json:"current_window"`
	Previous Snapshot `json:"previous_window"`
}

// Compare puts two snapshots of one city side by side.
func Compare(cur, prev Snapshot) Comparison {
	return Comparison{City: cur.City, Ads: NewChange(cur.Ads, prev.Ads), Profiles: NewChange(cur.Profiles, prev.Profiles),
		Current: cur, Previous: prev}
}
