package main

import (
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/adwatch/adwatch/internal/app"
	"github.com/adwatch/adwatch/internal/config"
)

type globals struct {
	config, data string
	verbose      bool
	noSync       bool
	// metricsAddr overrides metrics.addr (--metrics-addr of the commands
	// that run stages).
	metricsAddr string
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
		simCmd(), generateCmd(g), benchCmd(g), snapshotCmd(g), compareCmd(g), trendsCmd(g), exportCmd(g), reindexCmd(g), evalCmd(g), profileCmd(g), digestCmd(g), watchCmd(g),
		userCmd(g), auditCmd(g), deadCmd(g), evidenceCmd(g))
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
	if g.metricsAddr != "" {
		cfg.Metrics.Addr = g.metricsAddr
	}
	a := app.New(cfg, g.data, log)
	a.SyncAlways = !g.noSync
	return a, nil
}

// metricsFlag gives c, a command that runs stages, --metrics-addr.
func metricsFlag(c *cobra.Command, g *globals) *cobra.Command {
	c.Flags().StringVar(&g.metricsAddr, "metrics-addr", "", "serve GET /metrics alone on this host:port; default metrics.addr from the config (none when empty)")
	return c
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
