package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/adwatch/adwatch/extractor/indicator"
	"github.com/adwatch/adwatch/internal/synth"
)

func generateCmd(g *globals) *cobra.Command {
	var n int
	var seed int64
	c := &cobra.Command{
		Use:   "generate",
		Short: "Write N synthetic extracted ads straight into the ads stream, no crawl (load for reindex, index and the benchmarks)",
		Long: "generate writes --ads extracted ads into the ads stream, as the extract stage would: the simulated world's ads " +
			"repeated round after round, each round with its own persons. Then adwatch reindex (or the index role) indexes them.",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if n <= 0 {
				return fmt.Errorf("--ads %d: give a positive number of ads", n)
			}
			a, err := g.connected(cmd, true)
			if err != nil {
				return err
			}
			defer a.Close()
			m, err := indicator.LoadDir(a.Config.IndicatorsDir)
			if err != nil {
				return err
			}
			gen, err := synth.New(seed, m)
			if err != nil {
				return err
			}
			start := time.Now()
			progress := func(done int) {
				fmt.Fprintf(cmd.ErrOrStderr(), "generate: %d of %d ads (%.0f%%), %.0f/s\n", done, n,
					100*float64(done)/float64(n), float64(done)/time.Since(start).Seconds())
			}
			if err := synth.Publish(cmd.Context(), a.Bus.JS, gen, n, progress); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %d ads to the ads stream in %v; %.0f ads/s\n",
				n, time.Since(start).Round(time.Millisecond), float64(n)/time.Since(start).Seconds())
			return nil
		},
	}
	c.Flags().IntVar(&n, "ads", 10_000, "how many ads to write")
	c.Flags().Int64Var(&seed, "seed", 1, "seed of the simulated world the ads come from")
	return c
}
