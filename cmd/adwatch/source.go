package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/adwatch/adwatch/indexer"
	"github.com/adwatch/adwatch/internal/app"
	"github.com/adwatch/adwatch/report"
	"github.com/adwatch/adwatch/web"
)

// openSource opens the index read-only, or, when a running adwatch has it
// open, reads through that process's API on the configured serve address.
func openSource(g *globals, cmd *cobra.Command) (*app.App, report.Source, error) {
	a, err := g.app(cmd)
	if err != nil {
		return nil, nil, err
	}
	idx, err := a.OpenIndex(true)
	if errors.Is(err, indexer.ErrLocked) {
		base := "http://" + a.Config.Serve.Addr
		fmt.Fprintf(cmd.ErrOrStderr(), "the index is in use by a running adwatch; reading through its API at %s\n", base)
		return a, web.NewClient(base), nil
	}
	if err != nil {
		return nil, nil, err
	}
	return a, &report.Local{Config: &a.Config, Index: idx}, nil
}
