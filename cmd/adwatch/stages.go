package main

import (
	"github.com/spf13/cobra"

	"github.com/adwatch/adwatch/internal/app"
)

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
			a.Progress = cmd.ErrOrStderr()
			return a.Run(cmd.Context(), once)
		},
	}
	c.Flags().BoolVar(&once, "once", false, "crawl every site once, wait until every stage is done, and exit")
	return metricsFlag(c, g)
}

// roleCmd runs one role alone against the configured NATS URL.
func roleCmd(g *globals, name, role, short string) *cobra.Command {
	return metricsFlag(&cobra.Command{
		Use:   name,
		Short: short,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := g.app(cmd)
			if err != nil {
				return err
			}
			return a.RunRoles(cmd.Context(), []string{role}, false)
		},
	}, g)
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
			// With nats.url the index is kept current by a view of its
			// own; without, the embedded server holds the accounts, the
			// audit log and the alerts.
			return a.RunRoles(cmd.Context(), []string{app.RoleWeb}, true)
		},
	}
	c.Flags().StringVar(&addr, "addr", "", "listen address; default serve.addr from the config (beyond loopback only with TLS or a trusted proxy, and accounts)")
	return metricsFlag(c, g)
}
