package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/adwatch/adwatch/indexer"
)

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
