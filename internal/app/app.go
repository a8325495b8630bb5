// Package app is adwatch's composition root: it turns a typed config and a
// data directory into running stages. It starts
// the embedded NATS server (unless the config names an external one), opens
// the index once for the roles that share it, builds each named role's
// stage with only the streams and buckets it uses, and runs them in one
// group. The stages talk to each other only through NATS, so any set of
// roles can run in one process (adwatch run) or each in its own.
package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/adwatch/adwatch/indexer"
	"github.com/adwatch/adwatch/internal/bus"
	"github.com/adwatch/adwatch/internal/config"
	"github.com/adwatch/adwatch/report"
	"github.com/adwatch/adwatch/web"
)

// App holds what every command shares.
type App struct {
	Config  config.Config
	DataDir string
	Log     *slog.Logger
	// SyncAlways makes the embedded JetStream fsync every write.
	SyncAlways bool

	// Progress, when a terminal, shows run --once's progress as a bar;
	// otherwise (nil, a log, a pipe) it is logged every 10 seconds.
	Progress io.Writer

	Registry *prometheus.Registry
	Bus      *bus.Bus
	owner    *bus.Owner
	// metrics registers the stages' metrics on Registry and remembers
	// their names (MetricNames).
	metrics *recorder
}

// New returns an App with its own metrics registry.
func New(cfg config.Config, dataDir string, log *slog.Logger) *App {
	reg := prometheus.NewRegistry()
	rec := &recorder{reg: reg, names: map[string]bool{}}
	rec.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &App{Config: cfg, DataDir: dataDir, Log: log, Registry: reg, SyncAlways: true, metrics: rec}
}

// Connect connects to the configured NATS, starting the embedded server
// when embedded is allowed and no URL is configured.
func (a *App) Connect(ctx context.Context, embedded bool) error {
	url := a.Config.NATS.URL
	n := a.Config.NATS
	creds := bus.Credentials{Token: n.Token, User: n.User, Password: n.Password, CredsFile: n.CredsFile}
	if url == "" {
		if !embedded {
			return errors.New("this command runs one stage against a NATS server: set nats.url in the config (adwatch run starts an embedded one)")
		}
		owner, u, err := bus.Open(a.DataDir, a.SyncAlways, a.Log)
		if err != nil {
			return err
		}
		token, err := bus.Token(a.DataDir)
		if err != nil {
			if owner != nil {
				owner.Close()
			}
			return err
		}
		creds = bus.Credentials{Token: token}
		url = u
		if owner == nil {
			a.Log.Info("the data dir belongs to a running adwatch; using its nats", "url", url)
		} else {
			a.owner = owner
			a.Log.Info("embedded nats started", "store", a.DataDir)
		}
	}
	b, err := bus.Connect(ctx, url, a.Config.NATS.Replicas, creds)
	if err != nil {
		a.Close()
		return err
	}
	l := a.Config.Limits
	if err := b.ApplyLimits(ctx, bus.Limits{Pages: l.PagesBytes, Ads: l.AdsBytes, Images: l.ImagesBytes, Dead: l.DeadBytes}); err != nil {
		b.Close()
		a.Close()
		return err
	}
	a.Bus = b
	return nil
}

// Owns reports whether this process owns the data dir (its embedded NATS
// server and lock).
func (a *App) Owns() bool { return a.owner != nil }

// Close disconnects and stops the embedded server.
func (a *App) Close() {
	if a.Bus != nil {
		a.Bus.Close()
		a.Bus = nil
	}
	if a.owner != nil {
		a.owner.Close()
		a.owner = nil
	}
}

// OpenIndex opens the index under the data directory.
func (a *App) OpenIndex(readOnly bool) (*indexer.Index, error) {
	return indexer.OpenLogged(a.DataDir, a.Config.Linking.PHashThreshold, a.Config.Linking.MaxProfilesPerLink, readOnly, a.Log)
}

// OpenSource opens what the read commands and a lone digest scheduler
// read: the index read-only, or, when a running adwatch holds it, that
// process's API on the configured serve address (remote is then true).
func (a *App) OpenSource() (src report.Source, remote bool, err error) {
	idx, err := a.OpenIndex(true)
	if errors.Is(err, indexer.ErrLocked) {
		return a.apiClient()
	}
	if err != nil {
		return nil, false, err
	}
	return &report.Local{Config: &a.Config, Index: idx}, false, nil
}

// TokenFile is where a serving adwatch writes the command-line token, in
// its data dir (owner-only).
func (a *App) TokenFile() string { return filepath.Join(a.DataDir, "api.token") }

// apiClient is a client of the API of the adwatch that holds the data
// dir, authenticated with the token it wrote there. Over TLS it trusts the
// configured certificate.
func (a *App) apiClient() (report.Source, bool, error) {
	data, err := os.ReadFile(a.TokenFile())
	if err != nil {
		return nil, false, fmt.Errorf("the index is held by a running adwatch, and its command-line token cannot be read (%w); is it serving?", err)
	}
	s := a.Config.Serve
	if s.TLSCert == "" {
		return web.NewClient("http://"+s.Addr, strings.TrimSpace(string(data))), true, nil
	}
	pem, err := os.ReadFile(s.TLSCert)
	if err != nil {
		return nil, false, fmt.Errorf("reading serve.tls_cert: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	tc := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if u, err := url.Parse(s.PublicURL); err == nil && u.Hostname() != "" {
		tc.ServerName = u.Hostname()
	}
	c := web.NewClient("https://"+s.Addr, strings.TrimSpace(string(data)))
	c.HTTP.Transport = &http.Transport{TLSClientConfig: tc}
	return c, true, nil
}
