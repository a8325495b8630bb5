package web

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/adwatch/adwatch/indexer"
	"github.com/adwatch/adwatch/report"
)

// exportError is the last line of an export that failed after its first
// ads were sent: {"export_error": "..."}, a key no ad line has.
type exportError struct {
	Err string `json:"export_error"`
}

// Client reads a running adwatch's API: the read commands use it while
// that process holds the index.
type Client struct {
	// Base is the server's address, for example http://127.0.0.1:8080.
	Base string
	// Token is sent as a bearer token: the command-line token the server
	// wrote to its data dir, or a session token.
	Token string
	HTTP  *http.Client
}

// NewClient returns a client of the API at base that authenticates with
// token.
func NewClient(base, token string) *Client {
	return &Client{Base: base, Token: token, HTTP: &http.Client{Timeout: 10 * time.Minute}}
}

// get fetches path; a non-200 answer is an error with the server's message.
func (c *Client) get(ctx context.Context, path string, q url.Values) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Base+path+"?"+q.Encode(), nil)
	if err == nil && c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	if err != nil {
		return nil, err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("the index is in use and the running adwatch does not answer at %s (is it serving elsewhere?): %w", c.Base, err)
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

// Snapshot reads /api/snapshot.
func (c *Client) Snapshot(ctx context.Context, city, date string) (report.Snapshot, error) {
	var s report.Snapshot
	resp, err := c.get(ctx, "/api/snapshot", url.Values{"city": {city}, "date": {date}})
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return s, fmt.Errorf("reading the snapshot: %w", err)
	}
	return s, nil
}

// Profile reads /api/profiles/{id}; false when there is no such profile.
func (c *Client) Profile(ctx context.Context, id string) (indexer.ProfileView, bool, error) {
	var v indexer.ProfileView
	resp, err := c.get(ctx, "/api/profiles/"+url.PathEscape(id), nil)
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

// ExportAds reads /api/export/ads and calls fn with each ad.
func (c *Client) ExportAds(ctx context.Context, city, since, until string, fn func(report.ExportedAd) error) error {
	resp, err := c.get(ctx, "/api/export/ads", url.Values{"city": {city}, "since": {since}, "until": {until}})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var e exportError
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.Err != "" {
			return fmt.Errorf("the running adwatch stopped the export: %s", e.Err)
		}
		var a report.ExportedAd
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

// Close releases nothing: the server owns the index.
func (c *Client) Close() error { return nil }

var _ report.Source = (*Client)(nil)
