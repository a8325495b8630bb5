package alerts

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/adwatch/adwatch/internal/record"
)

// Unit is a subscriber to digests: a vice or human-trafficking unit, its
// recipients, its jurisdiction and when it reads.
type Unit struct {
	Name string `yaml:"name"`
	// Recipients receive the digest by email.
	Recipients []string `yaml:"recipients"`
	// Webhook receives it as JSON; WebhookFormat is json (default), slack
	// or teams.
	Webhook       string `yaml:"webhook"`
	WebhookFormat string `yaml:"webhook_format"`
	// Cities of the unit; empty means the whole region.
	Cities []string `yaml:"cities"`
	// Rules the unit wants; empty means all.
	Rules []string `yaml:"rules"`
	// MinSeverity: alerts less severe are left out (default low: all).
	MinSeverity string `yaml:"min_severity"`
	// Schedule is the local time of the daily digest, "07:00".
	Schedule string `yaml:"schedule"`
	Timezone string `yaml:"timezone"`
}

func (u *Unit) validate() error {
	var errs []error
	if u.Name == "" {
		errs = append(errs, errors.New("unit without a name"))
	}
	if len(u.Recipients) == 0 && u.Webhook == "" {
		errs = append(errs, fmt.Errorf("unit %s: no recipients and no webhook", u.Name))
	}
	if u.MinSeverity == "" {
		u.MinSeverity = "low"
	}
	if SeverityRank(u.MinSeverity) == len(Severities) {
		errs = append(errs, fmt.Errorf("unit %s: min_severity %q unknown", u.Name, u.MinSeverity))
	}
	if u.Schedule == "" {
		u.Schedule = "07:00"
	}
	if _, err := time.Parse("15:04", u.Schedule); err != nil {
		errs = append(errs, fmt.Errorf("unit %s: schedule %q is not HH:MM", u.Name, u.Schedule))
	}
	if u.Timezone == "" {
		u.Timezone = "America/Los_Angeles"
	}
	if _, err := time.LoadLocation(u.Timezone); err != nil {
		errs = append(errs, fmt.Errorf("unit %s: timezone: %w", u.Name, err))
	}
	switch u.WebhookFormat {
	case "", "json", "slack", "teams":
	default:
		errs = append(errs, fmt.Errorf("unit %s: webhook_format %q is not json, slack or teams", u.Name, u.WebhookFormat))
	}
	return errors.Join(errs...)
}

// NextRun is the unit's next scheduled digest after t.
func (u *Unit) NextRun(t time.Time) time.Time {
	loc, err := time.LoadLocation(u.Timezone)
	if err != nil {
		loc = time.UTC
	}
	hm, _ := time.Parse("15:04", u.Schedule)
	lt := t.In(loc)
	next := time.Date(lt.Year(), lt.Month(), lt.Day(), hm.Hour(), hm.Minute(), 0, 0, loc)
	if !next.After(t) {
		next = next.AddDate(0, 0, 1)
	}
	return next
}

// Wants reports whether the unit's digest includes a.
func (u *Unit) Wants(a *record.Alert) bool {
	if SeverityRank(a.Severity) > SeverityRank(u.MinSeverity) {
		return false
	}
	if len(u.Rules) > 0 && !slices.Contains(u.Rules, a.Rule) {
		return false
	}
	if len(u.Cities) == 0 {
		return true
	}
	for _, c := range a.Cities {
		for _, uc := range u.Cities {
			if strings.EqualFold(c, uc) {
				return true
			}
		}
	}
	return false
}

// SMTP is the mail server digests go through. The password is never in
// the file: PasswordEnv names the environment variable that holds it.
type SMTP struct {
	Host        string `yaml:"host"`
	Port        int    `yaml:"port"`
	Username    string `yaml:"username"`
	PasswordEnv string `yaml:"password_env"`
	From        string `yaml:"from"`
	// StartTLS is mandatory (default), opportunistic or none (tests only).
	StartTLS string `yaml:"starttls"`
}
