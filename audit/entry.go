// Package audit is adwatch's audit trail: an append-only record of what
// investigators do with the data (who searched for what, viewed which
// profile, ad, network or image, exported, changed an alert, the
// watchlist, a case or a user), kept for at least a year in the JetStream
// stream ADWATCH_AUDIT, where the server refuses to delete or purge
// messages.
//
// The entries form a hash chain: each holds the SHA-256 of its own
// canonical encoding (Entry.Hash), which covers the hash of the entry
// before it (Entry.Prev). Editing an entry, removing one or changing their
// order breaks the chain at that point, and Verify (adwatch audit verify)
// names the first break. Appends carry the stream's expected last
// sequence, so two processes appending at once never fork the chain.
//
// The trail itself holds queries and the ids viewed; nothing of an entry
// but its action, outcome and sequence ever goes to the process log
// (Entry.LogValue), so no phone number leaks there.
package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
)

// Actions an entry records.
const (
	ActionLogin           = "login"
	ActionLoginFailed     = "login_failed"
	ActionLogout          = "logout"
	ActionSearch          = "search"
	ActionViewProfile     = "view_profile"
	ActionViewAd          = "view_ad"
	ActionViewNetwork     = "view_network"
	ActionViewImage       = "view_image"
	ActionExport          = "export"
	ActionAlertStatus     = "alert_status"
	ActionWatchlistAdd    = "watchlist_add"
	ActionWatchlistRemove = "watchlist_remove"
	ActionCaseChange      = "case_change"
	ActionUserChange      = "user_change"
	// ActionRetentionPurge records a purge of the ads past the retention
	// period (by user "adwatch", from "retention").
	ActionRetentionPurge = "retention_purge"
)

// Outcomes of an action.
const (
	OutcomeOK     = "ok"
	OutcomeDenied = "denied"
	OutcomeFailed = "failed"
)

var (
	actions = []string{ActionLogin, ActionLoginFailed, ActionLogout, ActionSearch,
		ActionViewProfile, ActionViewAd, ActionViewNetwork, ActionViewImage, ActionExport,
		ActionAlertStatus, ActionWatchlistAdd, ActionWatchlistRemove, ActionCaseChange, ActionUserChange, ActionRetentionPurge}
	outcomes = []string{OutcomeOK, OutcomeDenied, OutcomeFailed}
)

// Entry is one action of one user.
//
// Its hash covers its canonical encoding: the entry's JSON (encoding/json,
// fields in the order declared here) without seq and hash. A field added
// later must be omitempty, so that the entries written before it keep
// their hashes.
type Entry struct {
	// Seq is the entry's sequence in the stream, set when it is read (and
	// by Append); the hash does not cover it.
	Seq uint64 `json:"seq,omitempty"`
	// At is when the action happened, in UTC.
	At time.Time `json:"at"`
	// User is who acted (for login_failed, the name tried).
	User string `json:"user"`
	// Role is the user's role at the time.
	Role string `json:"role"`
	// From is the remote address, or "cli" for a command.
	From string `json:"from"`
	// Action is one of the Action constants.
	Action string `json:"action"`
	// Object is the id viewed or changed (profile, ad, network, image,
	// alert, watchlist entry, case, user).
	Object string `json:"object,omitempty"`
	// Query is the search or export query.
	Query string `json:"query,omitempty"`
	// Case is the case number the action was taken for, if any.
	Case string `json:"case,omitempty"`
	// Outcome is one of the Outcome constants.
	Outcome string `json:"outcome"`
	// Prev is the hex SHA-256 of the entry before this one; empty for the
	// first entry of the stream.
	Prev string `json:"prev"`
	// Hash is the hex SHA-256 of this entry's canonical encoding, the
	// entry's JSON without seq and hash.
	Hash string `json:"hash,omitempty"`
}

// LogValue keeps an entry's object, query and case out of the process log
// (they may hold a phone number or a photo's hash): only the sequence,
// action, outcome and role are logged.
func (e Entry) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Uint64("seq", e.Seq),
		slog.String("action", e.Action),
		slog.String("outcome", e.Outcome),
		slog.String("role", e.Role),
	)
}

// hashOf returns the hex SHA-256 of e's canonical encoding: the entry's
// JSON without seq and hash. It fails only for a time JSON cannot hold
// (a year outside 0-9999).
func hashOf(e Entry) (string, error) {
	e.Seq, e.Hash = 0, ""
	b, err := json.Marshal(e)
	if err != nil {
		return "", fmt.Errorf("encoding audit entry: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// normalize puts e in the form it is stored in: At in UTC without a
// monotonic reading, strings valid UTF-8 (JSON would replace invalid
// bytes, and the entry returned must be the entry stored).
func normalize(e Entry) Entry {
	e.At = e.At.UTC().Round(0)
	for _, s := range []*string{&e.User, &e.Role, &e.From, &e.Action, &e.Object, &e.Query, &e.Case, &e.Outcome} {
		*s = strings.ToValidUTF8(*s, "\uFFFD")
	}
	return e
}

// check reports what makes e unfit to append.
func check(e Entry) error {
	if !slices.Contains(actions, e.Action) {
		return fmt.Errorf("unknown audit action %q", e.Action)
	}
	if !slices.Contains(outcomes, e.Outcome) {
		return fmt.Errorf("unknown audit outcome %q (want ok, denied or failed)", e.Outcome)
	}
	if e.User == "" || e.From == "" {
		return fmt.Errorf("audit entry of %s without a user or an origin", e.Action)
	}
	return nil
}
