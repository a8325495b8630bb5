package auth

import (
	"errors"
	"fmt"
	"slices"
)

// Role is what an account is for; it decides the permissions.
type Role string

// The roles, from least to most casework, and the administrator.
const (
	// Analyst sees figures only: trends, counts, snapshots and alert
	// summaries, never an ad's text, photos, phones or names.
	Analyst Role = "analyst"
	// Investigator works cases: everything about ads and people.
	Investigator Role = "investigator"
	// Supervisor is an investigator who also assigns alerts and cases and
	// reads the unit's audit log.
	Supervisor Role = "supervisor"
	// Admin manages users, rules and units and reads the whole audit log;
	// an admin is given no casework.
	Admin Role = "admin"
)

// Roles lists every role, least casework first.
func Roles() []Role { return []Role{Analyst, Investigator, Supervisor, Admin} }

// ErrUnknownRole is returned by ParseRole for a name that is not a role.
var ErrUnknownRole = errors.New("unknown role")

// ParseRole returns the role named s.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if !slices.Contains(Roles(), r) {
		return "", fmt.Errorf("%w %q: want analyst, investigator, supervisor or admin", ErrUnknownRole, s)
	}
	return r, nil
}

// Permission is one thing a role may see or do.
type Permission string

// The permissions.
const (
	// PermTrends: trends, counts and snapshots (figures, no ad content).
	PermTrends Permission = "trends"
	// PermAlertSummaries: how many alerts of each rule, without who.
	PermAlertSummaries Permission = "alert-summaries"
	// PermSearch: search ads and profiles by phone, name or words.
	PermSearch Permission = "search"
	// PermProfiles: read a profile (one advertised person) and its evidence.
	PermProfiles Permission = "profiles"
	// PermAds: read an ad's text, phones and names.
	PermAds Permission = "ads"
	// PermPhotos: see the ads' photos.
	PermPhotos Permission = "photos"
	// PermNetworks: read networks (profiles joined by shared contacts).
	PermNetworks Permission = "networks"
	// PermCases: open, read and work cases.
	PermCases Permission = "cases"
	// PermExport: export ads and profiles.
	PermExport Permission = "export"
	// PermWatchlist: read and change the watchlist.
	PermWatchlist Permission = "watchlist"
	// PermAlertTriage: read alerts in full and mark them.
	PermAlertTriage Permission = "alert-triage"
	// PermAssign: assign alerts and cases to investigators.
	PermAssign Permission = "assign"
	// PermAuditUnit: read the audit log of one's own unit.
	PermAuditUnit Permission = "audit-unit"
	// PermAuditAll: read the whole audit log.
	PermAuditAll Permission = "audit-all"
	// PermUsers: add, disable and reset accounts.
	PermUsers Permission = "users"
	// PermRules: change the alert rules.
	PermRules Permission = "rules"
	// PermUnits: change the units and their recipients.
	PermUnits Permission = "units"
	// PermDeadLetters: see what the pipeline gave up on (dead letters),
	// without their content.
	PermDeadLetters Permission = "dead-letters"
)

// grants is the one table of who may do what: a row per permission, the
// roles that have it.
var grants = []struct {
	perm  Permission
	roles []Role
}{
	{PermTrends, []Role{Analyst, Investigator, Supervisor}},
	{PermAlertSummaries, []Role{Analyst, Investigator, Supervisor}},
	{PermSearch, []Role{Investigator, Supervisor}},
	{PermProfiles, []Role{Investigator, Supervisor}},
	{PermAds, []Role{Investigator, Supervisor}},
	{PermPhotos, []Role{Investigator, Supervisor}},
	{PermNetworks, []Role{Investigator, Supervisor}},
	{PermCases, []Role{Investigator, Supervisor}},
	{PermExport, []Role{Investigator, Supervisor}},
	{PermWatchlist, []Role{Investigator, Supervisor}},
	{PermAlertTriage, []Role{Investigator, Supervisor}},
	{PermAssign, []Role{Supervisor}},
	{PermAuditUnit, []Role{Supervisor}},
	{PermAuditAll, []Role{Admin}},
	{PermUsers, []Role{Admin}},
	{PermRules, []Role{Admin}},
	{PermUnits, []Role{Admin}},
	{PermDeadLetters, []Role{Supervisor, Admin}},
}

// Permissions lists every permission, in the order of the table.
func Permissions() []Permission {
	out := make([]Permission, len(grants))
	for i, g := range grants {
		out[i] = g.perm
	}
	return out
}

// Can reports whether the role has the permission. An unknown role or
// permission has nothing.
func (r Role) Can(p Permission) bool {
	for _, g := range grants {
		if g.perm == p {
			return slices.Contains(g.roles, r)
		}
	}
	return false
}
