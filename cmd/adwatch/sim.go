package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/adwatch/adwatch/internal/sim"
)

func simCmd() *cobra.Command {
	var addr, truth, scenario string
	var seed int64
	c := &cobra.Command{
		Use:   "sim",
		Short: "Serve the simulated classifieds site and write its ground truth",
		RunE: func(cmd *cobra.Command, _ []string) error {
			w, err := sim.Generate(seed, scenario)
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("listening on %s: %w", addr, err)
			}
			base := "http://" + ln.Addr().String()
			if truth != "" {
				if err := os.MkdirAll(filepath.Dir(truth), 0o750); err != nil {
					return fmt.Errorf("creating truth dir: %w", err)
				}
				f, err := os.Create(truth)
				if err != nil {
					return fmt.Errorf("creating truth file: %w", err)
				}
				if err := w.WriteTruth(f, base); err != nil {
					f.Close()
					return err
				}
				if err := f.Close(); err != nil {
					return fmt.Errorf("writing truth file: %w", err)
				}
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "simulated site with %d ads on %s\n", len(w.Ads), base)
			srv := &http.Server{Handler: sim.NewServer(w), ReadHeaderTimeout: 10 * time.Second}
			// The server closes when the command's context ends; the
			// goroutine ends with Serve either way.
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			go func() {
				<-ctx.Done()
				_ = srv.Close()
			}()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("serving: %w", err)
			}
			return nil
		},
	}
	c.Flags().StringVar(&addr, "addr", "127.0.0.1:8089", "listen address")
	c.Flags().Int64Var(&seed, "seed", 1, "world seed")
	c.Flags().StringVar(&truth, "truth", "", "write the ground truth (JSON lines) here")
	c.Flags().StringVar(&scenario, "scenario", "alameda", "world: alameda (the DA's Oakland figures) or small")
	return c
}
