package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/adwatch/adwatch/indexer"
	"github.com/adwatch/adwatch/report"
)

// LinkingReport is what adwatch eval linking prints.
type LinkingReport struct {
	// Ads of the truth file found in the index, and missing from it.
	Ads     int `json:"ads"`
	Missing int `json:"missing"`
	// Profiles against true persons, networks against true networks.
	Profiles indexer.Scores `json:"profiles"`
	Networks indexer.Scores `json:"networks"`
}

func evalCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "eval", Short: "Measure adwatch against a ground truth"}
	var truthPath string
	var asJSON bool
	linking := &cobra.Command{
		Use:   "linking",
		Short: "Compare profiles and networks with a ground truth (JSON lines: url, person, network)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, src, err := openSource(g, cmd)
			if err != nil {
				return err
			}
			defer src.Close()
			rep, err := evalLinking(cmd.Context(), src, truthPath)
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(rep)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%d ads of the truth indexed, %d missing\n", rep.Ads, rep.Missing)
			fmt.Fprintf(out, "%-9s %9s %9s %9s %9s %9s %9s %9s\n", "", "found", "truth", "pair P", "pair R", "pair F1", "B3 P", "B3 R")
			for _, r := range []struct {
				name string
				s    indexer.Scores
			}{{"profiles", rep.Profiles}, {"networks", rep.Networks}} {
				fmt.Fprintf(out, "%-9s %9d %9d %9.4f %9.4f %9.4f %9.4f %9.4f\n", r.name, r.s.Clusters, r.s.Truth,
					r.s.PairPrecision, r.s.PairRecall, r.s.PairF1, r.s.BCubedPrecision, r.s.BCubedRecall)
			}
			return nil
		},
	}
	linking.Flags().StringVar(&truthPath, "truth", "", "ground-truth file (adwatch sim --truth)")
	linking.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	_ = linking.MarkFlagRequired("truth")
	c.AddCommand(linking)
	return c
}

func evalLinking(ctx context.Context, src report.Source, truthPath string) (LinkingReport, error) {
	f, err := os.Open(truthPath)
	if err != nil {
		return LinkingReport{}, fmt.Errorf("opening truth: %w", err)
	}
	defer f.Close()
	type linked struct{ id, profile, network string }
	byURL := map[string]linked{}
	if err := src.ExportAds(ctx, "", "", "", func(a report.ExportedAd) error {
		byURL[a.URL] = linked{a.ID, a.Profile, a.Network}
		return nil
	}); err != nil {
		return LinkingReport{}, err
	}
	var rep LinkingReport
	predP, predN, trueP, trueN := map[string]string{}, map[string]string{}, map[string]string{}, map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for line := 1; sc.Scan(); line++ {
		var t struct{ URL, Person, Network string }
		if err := json.Unmarshal(sc.Bytes(), &t); err != nil {
			return LinkingReport{}, fmt.Errorf("truth line %d: %w", line, err)
		}
		l, ok := byURL[t.URL]
		if !ok {
			rep.Missing++
			continue
		}
		rep.Ads++
		id := l.id
		predP[id], predN[id] = l.profile, l.network
		trueP[id], trueN[id] = t.Person, t.Network
	}
	if err := sc.Err(); err != nil {
		return LinkingReport{}, fmt.Errorf("reading truth: %w", err)
	}
	rep.Profiles = indexer.Evaluate(predP, trueP)
	rep.Networks = indexer.Evaluate(predN, trueN)
	return rep, nil
}

func profileCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "profile ID",
		Short: "Print a profile: its ads in time order, cities, phones, handles, ages, the evidence that links them, its network",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, src, err := openSource(g, cmd)
			if err != nil {
				return err
			}
			defer src.Close()
			v, ok, err := src.Profile(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("no profile %s", args[0])
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Profile %s (network %s)\n", v.ID, v.Network)
			if v.ID != args[0] {
				fmt.Fprintf(out, "  (%s was merged into it)\n", args[0])
			}
			fmt.Fprintf(out, "  %d ads from %s to %s in %v\n", len(v.Ads), v.First.Format("2006-01-02"), v.Last.Format("2006-01-02"), v.Cities)
			fmt.Fprintf(out, "  stated ages %v, names %v\n  phones %v\n  handles %v\n", v.Ages, v.Names, v.Phones, v.Handles)
			if len(v.NetworkProfiles) > 0 {
				fmt.Fprintf(out, "  shares a phone or handle with %v\n", v.NetworkProfiles)
			}
			if len(v.Templates) > 0 {
				fmt.Fprintf(out, "  same template as %v\n", v.Templates)
			}
			for _, a := range v.Ads {
				fmt.Fprintf(out, "  %s  %-14s %s  %s\n", a.PostedAt.Format("2006-01-02 15:04"), a.City, a.ID, a.Title)
			}
			for _, l := range v.Links {
				fmt.Fprintf(out, "  linked %s and %s: %s\n", l.A, l.B, l.Evidence)
			}
			return nil
		},
	}
}
