package main

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/adwatch/adwatch/alerts"
	"github.com/adwatch/adwatch/alerts/digest"
	"github.com/adwatch/adwatch/internal/app"
)

func digestCmd(g *globals) *cobra.Command {
	var unitName string
	var dryRun, send bool
	c := &cobra.Command{
		Use:   "digest",
		Short: "Build a unit's digest of new alerts: print it (--dry-run) or send it now (--send)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dryRun == send {
				return fmt.Errorf("say --dry-run or --send")
			}
			a, err := g.connected(cmd, true)
			if err != nil {
				return err
			}
			defer a.Close()
			f, _, _, err := alerts.LoadRules(a.Config.AlertsFile)
			if err != nil {
				return err
			}
			var unit *alerts.Unit
			for i := range f.Units {
				if f.Units[i].Name == unitName {
					unit = &f.Units[i]
				}
			}
			if unit == nil {
				return fmt.Errorf("no unit %q in %s", unitName, a.Config.AlertsFile)
			}
			_, src, err := openSource(g, cmd)
			if err != nil {
				return err
			}
			defer src.Close()
			d, err := digest.Build(cmd.Context(), a.Outbox(), *unit, a.DigestURL(&f), app.Snapshotter(src), time.Now())
			if err != nil {
				return err
			}
			if dryRun {
				fmt.Fprintf(cmd.OutOrStdout(), "To: %v\nSubject: %s\n\n%s", d.Recipients, digest.Subject(d), digest.Text(d))
				return nil
			}
			if err := digest.Queue(cmd.Context(), a.Outbox(), d); err != nil {
				return err
			}
			s := &digest.Sender{JS: a.Bus.JS, Delivered: a.Bus.Digests, SMTP: f.SMTP, Log: a.Log.With("component", "digest")}
			if err := s.Drain(cmd.Context()); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "sent the digest of %d alerts to %s\n", d.Total, unit.Name)
			return nil
		},
	}
	c.Flags().StringVar(&unitName, "unit", "", "unit name (configs/alerts.yaml)")
	c.Flags().BoolVar(&dryRun, "dry-run", false, "print what would be sent")
	c.Flags().BoolVar(&send, "send", false, "send now (retries until delivered or interrupted)")
	_ = c.MarkFlagRequired("unit")
	return c
}

func watchCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "watch", Short: "The watchlist: phones, handles, images and terms that raise an alert on any new ad"}
	var e alerts.WatchEntry
	var photo string
	add := &cobra.Command{
		Use:   "add",
		Short: "Add an entry (--kind phone|handle|image|term --value V, or --file PHOTO; --by NAME)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := g.connected(cmd, true)
			if err != nil {
				return err
			}
			defer a.Close()
			if photo != "" {
				data, err := os.ReadFile(photo)
				if err != nil {
					return fmt.Errorf("reading the photo to watch: %w", err)
				}
				if e, err = alerts.WatchPhoto(data, a.Config.Extract.MaxImagePixels, e.By, e.Note); err != nil {
					return err
				}
			}
			n, err := alerts.NormalizeWatch(e, a.Config.Region)
			if err != nil {
				return err
			}
			if err := alerts.AddWatch(cmd.Context(), a.Bus.Watchlist, n); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "watching %s %s\n", n.Kind, n.Value)
			return nil
		},
	}
	add.Flags().StringVar(&e.Kind, "kind", "", "phone, handle, image (SHA-256 or 16-digit perceptual hash) or term")
	add.Flags().StringVar(&photo, "file", "", "a photo to watch for: any re-encoded, resized or cropped copy matches")
	add.Flags().StringVar(&e.Value, "value", "", "what to watch for, in any format")
	add.Flags().StringVar(&e.By, "by", "", "who adds it")
	add.Flags().StringVar(&e.Note, "note", "", "why")
	list := &cobra.Command{
		Use:   "list",
		Short: "List the watchlist as JSON lines",
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := g.connected(cmd, true)
			if err != nil {
				return err
			}
			defer a.Close()
			entries, err := alerts.Watchlist(cmd.Context(), a.Bus.Watchlist)
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			for _, w := range entries {
				if err := enc.Encode(w); err != nil {
					return err
				}
			}
			return nil
		},
	}
	c.AddCommand(add, list)
	return c
}
