package record

import "time"

// Status of an alert.
const (
	StatusNew          = "new"
	StatusAcknowledged = "acknowledged"
	StatusDismissed    = "dismissed"
	StatusEscalated    = "escalated"
	// StatusWithdrawn marks an alert whose rule stopped firing (profiles
	// merged, say) after an investigator had acted on it.
	StatusWithdrawn = "withdrawn"
)

// Statuses an investigator may set.
var Statuses = []string{StatusNew, StatusAcknowledged, StatusDismissed, StatusEscalated}

// TermHit is a matched indicator term in an ad of the evidence.
type TermHit struct {
	Ad       string `json:"ad"`
	Category string `json:"category"`
	Term     string `json:"term"`
	Offset   int    `json:"offset"`
}

// StatusChange is one change of an alert's status, by an investigator
// or by adwatch itself.
type StatusChange struct {
	Status string    `json:"status"`
	By     string    `json:"by"`
	At     time.Time `json:"at"`
	Note   string    `json:"note,omitempty"`
	// Assigned is who the alert was assigned to by this change, if it
	// was an assignment.
	Assigned string `json:"assigned,omitempty"`
}

// Alert is one rule firing on one entity, with its evidence.
type Alert struct {
	Key      string `json:"key"`
	Rule     string `json:"rule"`
	Severity string `json:"severity"`
	// Entity is "profile:<id>", "phone:<number>", "ad:<id>" or
	// "city:<name>@<date>".
	Entity  string `json:"entity"`
	Summary string `json:"summary"`
	Status  string `json:"status"`
	// Evidence.
	AdCount  int       `json:"ad_count"`
	Ads      []string  `json:"ads"`
	Profiles []string  `json:"profiles"`
	Phones   []string  `json:"phones"`
	Images   []string  `json:"images"`
	Cities   []string  `json:"cities"`
	Terms    []TermHit `json:"terms"`
	// Assignee is the investigator the alert is assigned to, if any.
	Assignee string `json:"assignee,omitempty"`
	// History of status changes, oldest first.
	History   []StatusChange `json:"history,omitempty"`
	FirstSeen time.Time      `json:"first_seen"`
	Updated   time.Time      `json:"updated"`
}
