package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/spf13/cobra"

	"github.com/adwatch/adwatch/indexer"
	"github.com/adwatch/adwatch/internal/app"
	"github.com/adwatch/adwatch/internal/web"
)

// source is what the read commands (snapshot, compare, profile, export,
// eval) read: the index on disk, or, while adwatch run or serve holds it,
// the API of that running process.
type source interface {
	Snapshot(ctx context.Context, city, date string) (indexer.Snapshot, error)
	Profile(ctx context.Context, id string) (indexer.ProfileView, bool, error)
	ExportAds(ctx context.Context, city, since, until string, fn func(web.ExportedAd) error) error
	Close() error
}

// openSource opens the index read-only, or, when a running adwatch has it
// open, reads through that process's API on the configured serve address.
func openSource(g *globals, cmd *cobra.Command) (*app.App, source, error) {
	a, err := g.app(cmd)
	if err != nil {
		return nil, nil, err
	}
	idx, err := a.OpenIndex(true)
	if errors.Is(err, indexer.ErrLocked) {
		base := "http://" + a.Config.Serve.Addr
		fmt.Fprintf(cmd.ErrOrStderr(), "the index is in use by a running adwatch; reading through its API at %s\n", base)
		return a, &remote{base: base, client: &http.Client{Timeout: 10 * time.Minute}}, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return a, &local{app: a, idx: idx}, nil
}

// local reads the index on disk.
type local struct {
	app *app.App
	idx *indexer.Index
}

func (l *local) Snapshot(_ context.Context, city, date string) (indexer.Snapshot, error) {
	return web.Snapshot(&l.app.Config, l.idx, city, date)
}

func (l *local) Profile(_ context.Context, id string) (indexer.ProfileView, bool, error) {
	return l.idx.Profile(id)
}

func (l *local) ExportAds(_ context.Context, city, since, until string, fn func(web.ExportedAd) error) error {
	f, err := web.ParseFilter(city, since, until)
	if err != nil {
		return err
	}
	return web.ExportAds(l.idx, f, fn)
}

func (l *local) Close() error { return l.idx.Close() }

// remote reads the API of a running adwatch.
type remote struct {
	base   string
	client *http.Client
}

// get fetches path; a non-200 answer is an error with the server's message.
func (r *remote) get(ctx context.Context, path string, q url.Values) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.base+path+"?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("the index is in use and the running adwatch does not answer at %s (is it serving elsewhere?): %w", r.base, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		var e struct{ Error string }
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		if json.Unmarshal(body, &e) != nil || e.Error == "" {
			e.Error = string(bytes.TrimSpace(body))
		}
		return resp, fmt.Errorf("%s: %s (%s)", path, e.Error, resp.Status)
	}
	return resp, nil
}

func (r *remote) Snapshot(ctx context.Context, city, date string) (indexer.Snapshot, error) {
	var s indexer.Snapshot
	resp, err := r.get(ctx, "/api/snapshot", url.Values{"city": {city}, "date": {date}})
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return s, fmt.Errorf("reading the snapshot: %w", err)
	}
	return s, nil
}

func (r *remote) Profile(ctx context.Context, id string) (indexer.ProfileView, bool, error) {
	var v indexer.ProfileView
	resp, err := r.get(ctx, "/api/profiles/"+url.PathEscape(id), nil)
	if resp != nil && resp.StatusCode == http.StatusNotFound {
		return v, false, nil
	}
	if err != nil {
		return v, false, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return v, false, fmt.Errorf("reading the profile: %w", err)
	}
	return v, true, nil
}

func (r *remote) ExportAds(ctx context.Context, city, since, until string, fn func(web.ExportedAd) error) error {
	resp, err := r.get(ctx, "/api/export/ads", url.Values{"city": {city}, "since": {since}, "until": {until}})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var e struct {
			Err string `json:"export_error"`
		}
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.Err != "" {
			return fmt.Errorf("the running adwatch stopped the export: %s", e.Err)
		}
		var a web.ExportedAd
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			return fmt.Errorf("reading the export: %w", err)
		}
		if err := fn(a); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading the export: %w", err)
	}
	return nil
}

func (r *remote) Close() error { return nil }
