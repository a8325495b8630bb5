package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/adwatch/adwatch/audit"
)

func auditCmd(g *globals) *cobra.Command {
	var since, user string
	var asJSON bool
	c := &cobra.Command{
		Use:   "audit",
		Short: "Print the audit trail of what investigators did; audit verify checks its hash chain",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := g.connected(cmd, true)
			if err != nil {
				return err
			}
			defer a.Close()
			loc, err := time.LoadLocation(a.Config.DefaultTimezone)
			if err != nil {
				return fmt.Errorf("loading default_timezone: %w", err)
			}
			f := audit.Filter{User: user}
			if f.Since, err = parseSince(since, loc); err != nil {
				return err
			}
			entries, err := audit.List(cmd.Context(), a.Bus.JS, f)
			if errors.Is(err, audit.ErrNoStream) {
				fmt.Fprintln(cmd.ErrOrStderr(), "no audit trail yet:", err)
				return nil
			}
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				for _, e := range entries {
					if err := enc.Encode(e); err != nil {
						return fmt.Errorf("writing entry %d: %w", e.Seq, err)
					}
				}
				return nil
			}
			return printEntries(cmd.OutOrStdout(), entries)
		},
	}
	c.Flags().StringVar(&since, "since", "", "entries from this day (YYYY-MM-DD, midnight in default_timezone) or time (RFC 3339)")
	c.Flags().StringVar(&user, "user", "", "entries of this user only")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON lines")
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Check every entry's hash and link to the one before; exit non-zero at the first problem",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := g.connected(cmd, true)
			if err != nil {
				return err
			}
			defer a.Close()
			r, err := audit.Verify(cmd.Context(), a.Bus.JS)
			if err != nil {
				return fmt.Errorf("verifying the audit trail: %w", err)
			}
			if r.Problem != nil {
				fmt.Fprintf(cmd.OutOrStdout(), "entry %d: %s (%s); %d entries intact before it\n", r.Problem.Seq, r.Problem.What, r.Problem.Detail, r.Entries)
				return fmt.Errorf("the audit trail is broken at entry %d: %s", r.Problem.Seq, r.Problem.What)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d entries, chain intact\n", r.Entries)
			if r.First > 1 {
				fmt.Fprintf(cmd.OutOrStdout(), "entries before %d have expired; checked %d to %d\n", r.First, r.First, r.Last)
			}
			return nil
		},
	}
	c.AddCommand(verify)
	return c
}

// parseSince reads --since: a day (midnight in loc) or an RFC 3339 time;
// empty is the zero time (everything).
func parseSince(s string, loc *time.Location) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.ParseInLocation(time.DateOnly, s, loc); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--since %q: want YYYY-MM-DD or an RFC 3339 time", s)
	}
	return t, nil
}

// cell is s as one table cell: "-" when empty, quoted when it holds a
// tab, a newline or another control character (a query must not forge a
// line of the trail on the screen).
func cell(s string) string {
	switch {
	case s == "":
		return "-"
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return strconv.Quote(s)
	}
	return s
}

// printEntries writes entries as a table, times in UTC.
func printEntries(w io.Writer, entries []audit.Entry) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME (UTC)\tUSER\tROLE\tFROM\tACTION\tOBJECT\tCASE\tOUTCOME\tQUERY")
	for _, e := range entries {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.At.UTC().Format(time.DateTime),
			cell(e.User), cell(e.Role), cell(e.From), cell(e.Action), cell(e.Object), cell(e.Case), cell(e.Outcome), cell(e.Query))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing the audit trail: %w", err)
	}
	return nil
}
