package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/adwatch/adwatch/indexer"
	"github.com/adwatch/adwatch/internal/progress"
)

func reindexCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "reindex",
		Short: "Rebuild the index from the JetStream ads stream (into a new directory, swapped in when complete)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := g.connected(cmd, true)
			if err != nil {
				return err
			}
			defer a.Close()
			if a.Config.NATS.URL == "" && !a.Owns() {
				return errors.New("another adwatch process owns this data dir: stop it before adwatch reindex (its index would be replaced under it)")
			}
			// Holding the old index keeps every other process out of it
			// until the new one is in place. Its links are not read: the
			// rebuild makes its own, and keeps only its redirects.
			old, err := indexer.OpenHeld(a.DataDir, a.Log)
			if err != nil {
				return fmt.Errorf("the index is in use (%w): stop the process that holds it first", err)
			}
			before, _ := old.Count()
			build := filepath.Join(a.DataDir, "reindex")
			if err := os.RemoveAll(build); err != nil {
				old.Close()
				return fmt.Errorf("removing an unfinished rebuild: %w", err)
			}
			idx, err := indexer.Open(build, a.Config.Linking.PHashThreshold, a.Config.Linking.MaxProfilesPerLink, false)
			if err != nil {
				old.Close()
				return err
			}
			start := time.Now()
			bar := progress.New(cmd.ErrOrStderr(), "reindex", "messages", 0, 2*time.Second)
			n, bad, err := indexer.Rebuild(cmd.Context(), a.Bus.JS, idx, func(read, total uint64) {
				bar.Set(int64(read), int64(total))
			})
			bar.Finish()
			took := time.Since(start)
			if err == nil {
				// Profile ids seen before the rebuild still resolve.
				var kept int
				if kept, err = idx.KeepRedirects(old); err == nil && kept > 0 {
					fmt.Fprintf(cmd.ErrOrStderr(), "reindex: %d redirects of merged profiles kept from the old index\n", kept)
				}
			}
			if err == nil {
				// The months that are over take few writes: one file
				// each, which a look-up reads once.
				// A compaction that fails or is interrupted leaves a
				// complete index, only slower to read: it is swapped in
				// all the same, and the index stage compacts it later.
				cstart := time.Now()
				done, cerr := idx.CompactShardsBefore(cmd.Context(), cstart)
				switch {
				case cerr != nil:
					a.Log.Warn("compacting the months that are over", "months", len(done), "err", cerr)
				case len(done) > 0:
					fmt.Fprintf(cmd.ErrOrStderr(), "reindex: %d months that are over compacted in %v\n", len(done), time.Since(cstart).Round(time.Millisecond))
				}
			}
			count, _ := idx.Count()
			idx.Close()
			old.Close()
			if err != nil {
				return fmt.Errorf("%w (the old index is untouched; the partial rebuild is in %s)", err, build)
			}
			// Swap: the old index aside, the new one in, the old one gone.
			cur := filepath.Join(a.DataDir, "index.bleve")
			aside := filepath.Join(a.DataDir, "index.bleve.old")
			_ = os.RemoveAll(aside)
			if err := os.Rename(cur, aside); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("moving the old index aside: %w", err)
			}
			if err := os.Rename(filepath.Join(build, "index.bleve"), cur); err != nil {
				_ = os.Rename(aside, cur)
				return fmt.Errorf("swapping in the new index: %w", err)
			}
			_ = os.RemoveAll(aside)
			_ = os.RemoveAll(build)
			fmt.Fprintf(cmd.OutOrStdout(), "read %d ads from the stream (%d did not decode); %d ads indexed (%d before); %.0f ads/s\n",
				n, bad, count, before, float64(n)/took.Seconds())
			return nil
		},
	}
}
