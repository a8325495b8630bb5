package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/adwatch/adwatch/extractor/age"
	"github.com/adwatch/adwatch/extractor/phone"
	"github.com/adwatch/adwatch/indexer"
	"github.com/adwatch/adwatch/internal/app"
	"github.com/adwatch/adwatch/internal/config"
	"github.com/adwatch/adwatch/internal/sim"
	"github.com/adwatch/adwatch/report"
)

type globals struct {
	config, data string
	verbose      bool
	noSync       bool
}

func newRoot() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "adwatch",
		Short:         "Watch classified-ad sites for signs of human trafficking",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.config, "config", "configs/adwatch.yaml", "config file")
	root.PersistentFlags().StringVar(&g.data, "data", "./data", "data directory (JetStream store and index)")
	root.PersistentFlags().BoolVarP(&g.verbose, "verbose", "v", false, "debug logging")
	root.PersistentFlags().BoolVar(&g.noSync, "no-sync", false, "do not fsync every JetStream write (faster; loses the last writes on power loss)")
	root.AddCommand(runCmd(g),
		roleCmd(g, "crawl", app.RoleCrawl, "Run the crawler alone against nats.url"),
		extractCmd(g),
		roleCmd(g, "index", app.RoleIndex, "Run the indexer alone against nats.url (linking; run alerts beside it)"),
		roleCmd(g, "alerts", app.RoleAlerts, "Run the alert rules and the watchlist alone against nats.url"),
		roleCmd(g, "send", app.RoleSend, "Schedule and deliver the units' digests alone against nats.url"),
		serveCmd(g),
		simCmd(), snapshotCmd(g), compareCmd(g), exportCmd(g), reindexCmd(g), evalCmd(g), profileCmd(g), digestCmd(g), watchCmd(g))
	return root
}

func (g *globals) app(cmd *cobra.Command) (*app.App, error) {
	cfg, err := config.Load(g.config)
	if err != nil {
		return nil, err
	}
	level := slog.LevelInfo
	if g.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
	a := app.New(cfg, g.data, log)
	a.SyncAlways = !g.noSync
	return a, nil
}

// connected loads the app and connects it to NATS; embedded allows
// starting the embedded server when no URL is configured. Close it after.
func (g *globals) connected(cmd *cobra.Command, embedded bool) (*app.App, error) {
	a, err := g.app(cmd)
	if err != nil {
		return nil, err
	}
	if err := a.Connect(cmd.Context(), embedded); err != nil {
		return nil, err
	}
	return a, nil
}

func runCmd(g *globals) *cobra.Command {
	var once bool
	c := &cobra.Command{
		Use:   "run",
		Short: "Run every stage in one process on an embedded NATS server (or the configured one)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := g.app(cmd)
			if err != nil {
				return err
			}
			return a.Run(cmd.Context(), once)
		},
	}
	c.Flags().BoolVar(&once, "once", false, "crawl every site once, wait until every stage is done, and exit")
	return c
}

// roleCmd runs one role alone against the configured NATS URL.
func roleCmd(g *globals, name, role, short string) *cobra.Command {
	return &cobra.Command{
		Use:   name,
		Short: short,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := g.app(cmd)
			if err != nil {
				return err
			}
			return a.RunRoles(cmd.Context(), []string{role}, false)
		},
	}
}

func extractCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "extract",
		Short: "Run the extractor stage alone against nats.url; or extract phones|ages from standard input",
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := g.app(cmd)
			if err != nil {
				return err
			}
			return a.RunRoles(cmd.Context(), []string{app.RoleExtract}, false)
		},
	}
	var region string
	phones := &cobra.Command{
		Use:   "phones",
		Short: "Print, for each line of standard input, a JSON array of the phone numbers in it (E.164)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			e := phone.New(region)
			return eachLine(cmd.InOrStdin(), cmd.OutOrStdout(), func(s string) any {
				n := e.Numbers(s)
				if n == nil {
					n = []string{}
				}
				return n
			})
		},
	}
	phones.Flags().StringVar(&region, "region", "US", "region of numbers written without a country code")
	ages := &cobra.Command{
		Use:   "ages",
		Short: "Print, for each line of standard input, a JSON array of the stated ages in it",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return eachLine(cmd.InOrStdin(), cmd.OutOrStdout(), func(s string) any {
				n := age.Find(s)
				if n == nil {
					n = []int{}
				}
				return n
			})
		},
	}
	c.AddCommand(phones, ages)
	return c
}

func eachLine(in io.Reader, out io.Writer, f func(string) any) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64*1024), 16<<20)
	w := bufio.NewWriter(out)
	defer w.Flush()
	enc := json.NewEncoder(w)
	for sc.Scan() {
		if err := enc.Encode(f(sc.Text())); err != nil {
			return fmt.Errorf("writing result: %w", err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading standard input: %w", err)
	}
	return nil
}

func serveCmd(g *globals) *cobra.Command {
	var addr string
	c := &cobra.Command{
		Use:   "serve",
		Short: "Serve the web UI and API over the index (kept current from nats.url when set)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := g.app(cmd)
			if err != nil {
				return err
			}
			if addr != "" {
				a.Config.Serve.Addr = addr
			}
			if a.Config.NATS.URL != "" {
				// Kept current from NATS by an index view of its own.
				return a.RunRoles(cmd.Context(), []string{app.RoleWeb}, false)
			}
			st, err := a.Build([]string{app.RoleWeb}, app.Options{})
			if err != nil {
				return err
			}
			defer st.Close()
			return app.RunStages(cmd.Context(), st.Named)
		},
	}
	c.Flags().StringVar(&addr, "addr", "", "listen address (loopback only); default serve.addr from the config")
	return c
}

func simCmd() *cobra.Command {
	var addr, truth, scenario string
	var seed int64
	c := &cobra.Command{
		Use:   "sim",
		Short: "Serve the simulated classifieds site and write its ground truth",
		RunE: func(cmd *cobra.Command, _ []string) error {
			w, err := sim.Generate(seed, scenario)
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("listening on %s: %w", addr, err)
			}
			base := "http://" + ln.Addr().String()
			if truth != "" {
				if err := os.MkdirAll(filepath.Dir(truth), 0o750); err != nil {
					return fmt.Errorf("creating truth dir: %w", err)
				}
				f, err := os.Create(truth)
				if err != nil {
					return fmt.Errorf("creating truth file: %w", err)
				}
				if err := w.WriteTruth(f, base); err != nil {
					f.Close()
					return err
				}
				if err := f.Close(); err != nil {
					return fmt.Errorf("writing truth file: %w", err)
				}
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "simulated site with %d ads on %s\n", len(w.Ads), base)
			srv := &http.Server{Handler: sim.NewServer(w), ReadHeaderTimeout: 10 * time.Second}
			go func() {
				<-cmd.Context().Done()
				_ = srv.Close()
			}()
			if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
				return fmt.Errorf("serving: %w", err)
			}
			return nil
		},
	}
	c.Flags().StringVar(&addr, "addr", "127.0.0.1:8089", "listen address")
	c.Flags().Int64Var(&seed, "seed", 1, "world seed")
	c.Flags().StringVar(&truth, "truth", "", "write the ground truth (JSON lines) here")
	c.Flags().StringVar(&scenario, "scenario", "alameda", "world: alameda (the DA's Oakland figures) or small")
	return c
}

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

func reindexCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "reindex",
		Short: "Rebuild the index from the JetStream ads stream",
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := g.connected(cmd, true)
			if err != nil {
				return err
			}
			defer a.Close()
			old := filepath.Join(a.DataDir, "index.bleve")
			if err := os.RemoveAll(old); err != nil {
				return fmt.Errorf("removing old index: %w", err)
			}
			idx, err := a.OpenIndex(false)
			if err != nil {
				return err
			}
			defer idx.Close()
			n, err := indexer.Rebuild(cmd.Context(), a.Bus.JS, idx)
			if err != nil {
				return err
			}
			count, _ := idx.Count()
			fmt.Fprintf(cmd.OutOrStdout(), "read %d ads from the stream; %d ads indexed\n", n, count)
			return nil
		},
	}
}
