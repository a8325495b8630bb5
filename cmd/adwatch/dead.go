package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/adwatch/adwatch/internal/bus"
)

func deadCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "dead", Short: "Dead letters: messages a stage gave up on (list, retry)"}
	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List the dead letters: stage, error, original subject, tries",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := g.connected(cmd, true)
			if err != nil {
				return err
			}
			defer a.Close()
			dead, err := bus.ListDead(cmd.Context(), a.Bus.JS)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				for _, d := range dead {
					if err := enc.Encode(d); err != nil {
						return err
					}
				}
				return nil
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "SEQ\tAT\tSTAGE\tTRIES\tSUBJECT\tERROR")
			for _, d := range dead {
				fmt.Fprintf(w, "%d\t%s\t%s\t%d\t%s\t%s\n", d.Seq, d.At.Local().Format(time.DateTime), d.Stage, d.Deliveries, d.Subject, d.Error)
			}
			if err := w.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "%d dead letters\n", len(dead))
			return nil
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON lines")

	var all bool
	var stage string
	retry := &cobra.Command{
		Use:   "retry [SEQ...] [--all] [--stage S]",
		Short: "Hand dead letters to their stage again (after fixing the cause) and remove them",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 && !all && stage == "" {
				return fmt.Errorf("name the dead letters to retry by sequence, or give --all or --stage")
			}
			a, err := g.connected(cmd, true)
			if err != nil {
				return err
			}
			defer a.Close()
			var seqs []uint64
			for _, s := range args {
				n, err := strconv.ParseUint(s, 10, 64)
				if err != nil {
					return fmt.Errorf("%q is not a dead letter's sequence", s)
				}
				seqs = append(seqs, n)
			}
			if all || stage != "" {
				dead, err := bus.ListDead(cmd.Context(), a.Bus.JS)
				if err != nil {
					return err
				}
				for _, d := range dead {
					if stage == "" || d.Stage == stage {
						seqs = append(seqs, d.Seq)
					}
				}
			}
			for _, seq := range seqs {
				d, err := bus.RetryDead(cmd.Context(), a.Bus.JS, seq)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "retried %d (%s, %s)\n", d.Seq, d.Stage, d.Subject)
			}
			return nil
		},
	}
	retry.Flags().BoolVar(&all, "all", false, "retry every dead letter")
	retry.Flags().StringVar(&stage, "stage", "", "retry the dead letters of one stage (extractor, indexer)")
	c.AddCommand(list, retry)
	return c
}
