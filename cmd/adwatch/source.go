package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/adwatch/adwatch/internal/app"
	"github.com/adwatch/adwatch/report"
)

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
