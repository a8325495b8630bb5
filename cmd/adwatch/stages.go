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
