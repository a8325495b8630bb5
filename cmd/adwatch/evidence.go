package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/adwatch/adwatch/audit"
	"github.com/adwatch/adwatch/cases"
	"github.com/adwatch/adwatch/evidence"
	"github.com/adwatch/adwatch/internal/app"
	"github.com/adwatch/adwatch/internal/progress"
)

func evidenceCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "evidence", Short: "Captured pages and images as WARC 1.1 for a court: export, verify"}
	c.AddCommand(evidenceExportCmd(g), evidenceVerifyCmd(g))
	return c
}

func evidenceExportCmd(g *globals) *cobra.Command {
	var out, profile, caseNumber, city, since, until string
	var all bool
	var every int
	c := &cobra.Command{
		Use:   "export --out FILE.warc.gz (--all | --profile ID | --case NUMBER | --city C --since D --until D)",
		Short: "Write the captures of the selected ads as WARC 1.1 (.warc.gz: one gzip member per record)",
		Long: `Write the captured pages and images of the selected ads as WARC 1.1: a warcinfo
record (adwatch and its version, who exported, when, the selection), then per
capture a request, a response (status line, header fields, the body exactly as
served) and a metadata record (ad ids, site, city, SHA-256, server address), each
with WARC-Block-Digest and WARC-Payload-Digest (SHA-1, base32).

--city, --since and --until select by the ads stream (posted in [since, until));
--profile and --case read the index (or the running adwatch's API) for the ads
of a profile, or of a case's profiles and ads; --all exports every page.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			modes := 0
			for _, set := range []bool{all, profile != "", caseNumber != "", city != "" || since != "" || until != ""} {
				if set {
					modes++
				}
			}
			if modes != 1 {
				return errors.New("select with one of --all, --profile, --case, or --city/--since/--until")
			}
			a, err := g.connected(cmd, true)
			if err != nil {
				return err
			}
			defer a.Close()
			sel, err := selection(g, cmd, a, all, profile, caseNumber, city, since, until)
			if err != nil {
				return err
			}
			return exportEvidence(cmd, a, sel, out, every)
		},
	}
	c.Flags().StringVar(&out, "out", "", "the WARC file to write (.warc, or .warc.gz compressed)")
	c.Flags().BoolVar(&all, "all", false, "every captured page")
	c.Flags().StringVar(&profile, "profile", "", "the ads of this profile")
	c.Flags().StringVar(&caseNumber, "case", "", "the ads of this case: its profiles' and its own")
	c.Flags().StringVar(&city, "city", "", "ads of this city")
	c.Flags().StringVar(&since, "since", "", "ads posted at or after: YYYY-MM-DD (midnight in default_timezone) or RFC 3339")
	c.Flags().StringVar(&until, "until", "", "ads posted before: YYYY-MM-DD (midnight in default_timezone) or RFC 3339")
	c.Flags().IntVar(&every, "progress", 500, "print progress on stderr every this many records (0: never)")
	_ = c.MarkFlagRequired("out")
	return c
}

// selection turns the flags into an evidence.Selection; profiles and
// cases are read from the index, or the running adwatch's API.
func selection(g *globals, cmd *cobra.Command, a *app.App, all bool, profile, caseNumber, city, since, until string) (evidence.Selection, error) {
	ctx := cmd.Context()
	switch {
	case all:
		return evidence.Selection{All: true, Describe: "--all"}, nil
	case city != "" || since != "" || until != "":
		loc, err := time.LoadLocation(a.Config.DefaultTimezone)
		if err != nil {
			return evidence.Selection{}, fmt.Errorf("loading default_timezone: %w", err)
		}
		sel := evidence.Selection{City: city}
		if sel.Since, err = parseSince(since, loc); err != nil {
			return sel, err
		}
		if sel.Until, err = parseSince(until, loc); err != nil {
			return sel, fmt.Errorf("--until: %w", err)
		}
		for _, f := range [][2]string{{"--city", city}, {"--since", since}, {"--until", until}} {
			if f[1] != "" {
				sel.Describe += fmt.Sprintf(" %s %q", f[0], f[1])
			}
		}
		return sel, nil
	}
	profiles := []string{profile}
	sel := evidence.Selection{Describe: fmt.Sprintf("--profile %q", profile)}
	if caseNumber != "" {
		store, err := cases.Open(ctx, a.Bus.JS, a.Config.NATS.Replicas)
		if err != nil {
			return sel, err
		}
		c, err := store.Get(ctx, caseNumber)
		if err != nil {
			return sel, err
		}
		profiles, sel.AdIDs = c.Profiles, c.Ads
		sel.Describe = fmt.Sprintf("--case %q (%d profiles, %d ads)", caseNumber, len(c.Profiles), len(c.Ads))
	}
	if len(profiles) == 0 {
		return sel, nil
	}
	_, src, err := openSource(g, cmd)
	if err != nil {
		return sel, fmt.Errorf("reading the ads of a profile needs the index: %w", err)
	}
	defer src.Close()
	for _, id := range profiles {
		v, ok, err := src.Profile(ctx, id)
		if err != nil {
			return sel, fmt.Errorf("reading profile %s: %w", id, err)
		}
		if !ok {
			if caseNumber == "" {
				return sel, fmt.Errorf("no profile %s in the index", id)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "profile %s of case %s is not in the index\n", id, caseNumber)
			continue
		}
		for _, ad := range v.Ads {
			sel.AdIDs = append(sel.AdIDs, ad.ID)
		}
	}
	return sel, nil
}

// exportEvidence writes the file next to out and renames it there when
// complete, so a file named out is always whole.
func exportEvidence(cmd *cobra.Command, a *app.App, sel evidence.Selection, out string, every int) error {
	start := time.Now()
	// The export is audited before anything is written.
	trail, err := audit.Open(cmd.Context(), a.Bus.JS, a.Config.Audit.Retention, a.Config.NATS.Replicas)
	if err != nil {
		return err
	}
	if err := auditCLI(cmd, trail, audit.ActionExport, "evidence "+filepath.Base(out), sel.Describe, audit.OutcomeOK); err != nil {
		return fmt.Errorf("writing the audit log; nothing exported: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".*")
	if err != nil {
		return fmt.Errorf("creating %s: %w", out, err)
	}
	defer os.Remove(tmp.Name()) // gone once renamed
	who := strings.TrimPrefix(cliOperator(), "os:")
	host, _ := os.Hostname()
	info := evidence.Info{Software: "adwatch " + version(), ExportedBy: who, Host: host, At: time.Now().UTC(), Filename: filepath.Base(out)}
	w := evidence.NewWriter(tmp, strings.HasSuffix(strings.ToLower(out), ".gz"))
	next := every
	// On a terminal, a bar; elsewhere a line every --progress records.
	var bar *progress.Bar
	if every > 0 && progress.IsTerminal(cmd.ErrOrStderr()) {
		bar = progress.New(cmd.ErrOrStderr(), "evidence export", "pages", 0, time.Second)
	}
	stats, err := evidence.Export(cmd.Context(), evidence.Store{JS: a.Bus.JS, Images: a.Bus.Images}, sel, info, w, func(s evidence.Stats) {
		if bar != nil {
			bar.Set(int64(s.Pages), int64(s.PagesSelected))
			return
		}
		if every > 0 && s.Records >= next {
			fmt.Fprintf(cmd.ErrOrStderr(), "%d records: %d pages, %d images (%s)\n", s.Records, s.Pages, s.Images, time.Since(start).Round(time.Millisecond))
			next = (s.Records/every + 1) * every
		}
	})
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if bar != nil {
		bar.Finish()
	}
	if err != nil {
		return fmt.Errorf("exporting evidence: %w", err)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return fmt.Errorf("writing %s: %w", out, err)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s: %d records, %d pages and %d images of %d ads, in %s\n", out, stats.Records, stats.Pages, stats.Images, stats.Ads, time.Since(start).Round(time.Millisecond))
	if stats.ImagesMissing > 0 {
		fmt.Fprintf(cmd.OutOrStdout(), "%d images named by the pages are not in the image store (listed in the pages' metadata records)\n", stats.ImagesMissing)
	}
	return nil
}

func evidenceVerifyCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "verify FILE",
		Short: "Re-read a WARC export, recompute its digests, compare each capture with the stored one; non-zero exit naming each record that changed",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			start := time.Now()
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			br, err := evidence.NewReader(f)
			if err != nil {
				return fmt.Errorf("reading %s: %w", args[0], err)
			}
			a, err := g.connected(cmd, true)
			if err != nil {
				return err
			}
			defer a.Close()
			rep, err := evidence.Verify(cmd.Context(), evidence.Store{JS: a.Bus.JS, Images: a.Bus.Images}, br)
			out := cmd.OutOrStdout()
			for _, p := range rep.Problems {
				fmt.Fprintf(out, "CHANGED %s %s %s: %s\n", p.Record, p.Type, p.URI, p.What)
			}
			fmt.Fprintf(out, "%d records, %d verified (%d compared with the stored captures), %d changed, in %s\n",
				rep.Records, rep.Verified, rep.Compared, len(rep.Problems), time.Since(start).Round(time.Millisecond))
			if err != nil {
				return fmt.Errorf("verifying %s: %w", args[0], err)
			}
			if len(rep.Problems) > 0 {
				return fmt.Errorf("%s: %d of %d records do not verify", args[0], len(rep.Problems), rep.Records)
			}
			return nil
		},
	}
}

// version is adwatch's module version and, when the build recorded it,
// its commit.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			v += " " + s.Value
		}
		if s.Key == "vcs.modified" && s.Value == "true" {
			v += " (modified)"
		}
	}
	return v
}
