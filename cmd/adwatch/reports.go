package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/adwatch/adwatch/internal/app"
	"github.com/adwatch/adwatch/report"
)

func snapshotCmd(g *globals) *cobra.Command {
	var city, date string
	var asJSON bool
	c := &cobra.Command{
		Use:   "snapshot",
		Short: "Ads, profiles and phones of one city over the 24 hours of one local day",
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, src, err := openSource(g, cmd)
			if err != nil {
				return err
			}
			defer src.Close()
			s, err := src.Snapshot(cmd.Context(), city, date)
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(s)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s, %s to %s: %d ads, %d profiles, %d phone numbers\n",
				s.City, s.From.Format("1/2/06 15:04 MST"), s.To.Format("1/2/06 15:04 MST"), s.Ads, s.Profiles, s.Phones)
			return nil
		},
	}
	c.Flags().StringVar(&city, "city", "", "city name")
	c.Flags().StringVar(&date, "date", "", "local day, YYYY-MM-DD")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	_ = c.MarkFlagRequired("city")
	_ = c.MarkFlagRequired("date")
	return c
}

func compareCmd(g *globals) *cobra.Command {
	var city, date, vs string
	var asJSON bool
	c := &cobra.Command{
		Use:   "compare",
		Short: "Year-over-year table: ads and profiles of two 24-hour windows and the change in percent",
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, src, err := openSource(g, cmd)
			if err != nil {
				return err
			}
			defer src.Close()
			var snaps [2]report.Snapshot
			for i, d := range []string{date, vs} {
				if snaps[i], err = src.Snapshot(cmd.Context(), city, d); err != nil {
					return err
				}
			}
			cmp := report.Compare(snaps[0], snaps[1])
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(cmp)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%s, 24 hours from local midnight\n", city)
			fmt.Fprintf(out, "%-10s %12s %12s %9s\n", "", date, vs, "change")
			fmt.Fprintf(out, "%-10s %12d %12d %+8.1f%%\n", "ads", cmp.Ads.Current, cmp.Ads.Previous, cmp.Ads.ChangePct)
			fmt.Fprintf(out, "%-10s %12d %12d %+8.1f%%\n", "profiles", cmp.Profiles.Current, cmp.Profiles.Previous, cmp.Profiles.ChangePct)
			return nil
		},
	}
	c.Flags().StringVar(&city, "city", "", "city name")
	c.Flags().StringVar(&date, "date", "", "current local day, YYYY-MM-DD")
	c.Flags().StringVar(&vs, "vs", "", "previous local day, YYYY-MM-DD")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	for _, f := range []string{"city", "date", "vs"} {
		_ = c.MarkFlagRequired(f)
	}
	return c
}

func exportCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "export", Short: "Export data as JSON lines"}
	var city, since, until string
	ads := &cobra.Command{
		Use:   "ads",
		Short: "One ad per line: id, site, url, posted_at, city, title, phones, ages, images, profile, network, indicators",
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, src, err := openSource(g, cmd)
			if err != nil {
				return err
			}
			defer src.Close()
			w := bufio.NewWriter(cmd.OutOrStdout())
			defer w.Flush()
			enc := json.NewEncoder(w)
			return src.ExportAds(cmd.Context(), city, since, until, func(a report.ExportedAd) error { return enc.Encode(a) })
		},
	}
	ads.Flags().StringVar(&city, "city", "", "only this city")
	ads.Flags().StringVar(&since, "since", "", "posted at or after (RFC 3339)")
	ads.Flags().StringVar(&until, "until", "", "posted before (RFC 3339)")
	c.AddCommand(ads)
	return c
}

// openSource opens the index read-only, or, when a running adwatch has it
// open, reads through that process's API on the configured serve address.
func openSource(g *globals, cmd *cobra.Command) (*app.App, report.Source, error) {
	a, err := g.app(cmd)
	if err != nil {
		return nil, nil, err
	}
	src, remote, err := a.OpenSource()
	if err != nil {
		return nil, nil, err
	}
	if remote {
		fmt.Fprintf(cmd.ErrOrStderr(), "the index is in use by a running adwatch; reading through its API at %s\n", "http://"+a.Config.Serve.Addr)
	}
	return a, src, nil
}

func trendsCmd(g *globals) *cobra.Command {
	var cities []string
	var from, to string
	var asCSV, asJSON bool
	c := &cobra.Command{
		Use:   "trends",
		Short: "Ads, profiles and phones per local day of one or more cities (a table, --csv or --json)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, src, err := openSource(g, cmd)
			if err != nil {
				return err
			}
			defer src.Close()
			rows, err := report.Trends(cmd.Context(), src, cities, from, to)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			switch {
			case asCSV:
				return report.WriteTrendCSV(out, rows)
			case asJSON:
				return json.NewEncoder(out).Encode(rows)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, "date\tcity\tads\tprofiles\tphones\t")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t\n", r.Date, r.City, r.Ads, r.Profiles, r.Phones)
			}
			return tw.Flush()
		},
	}
	c.Flags().StringArrayVar(&cities, "city", nil, "city name (repeat for several)")
	c.Flags().StringVar(&from, "from", "", "first local day, YYYY-MM-DD")
	c.Flags().StringVar(&to, "to", "", "last local day, YYYY-MM-DD (included)")
	c.Flags().BoolVar(&asCSV, "csv", false, "print CSV: date,city,ads,profiles,phones")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	for _, f := range []string{"city", "from", "to"} {
		_ = c.MarkFlagRequired(f)
	}
	c.MarkFlagsMutuallyExclusive("csv", "json")
	return c
}
