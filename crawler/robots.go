package crawler

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/gocolly/colly/v2"
	"github.com/temoto/robotstxt"

	"github.com/adwatch/adwatch/internal/fetch"
)

const (
	// robotsMaxBytes caps a robots.txt; a larger one stops the crawl of
	// its host (the rules cannot be read whole).
	robotsMaxBytes = 512 << 10
	// maxCrawlDelay caps a robots.txt Crawl-delay, so that one site
	// cannot hold the crawl of the others for hours.
	maxCrawlDelay = time.Minute
)

// robots reads each host's robots.txt once per crawl, within
// robotsMaxBytes, answers whether a URL may be fetched, and hands the
// host's Crawl-delay to the limiter. colly's own handling reads robots.txt
// whole and ignores Crawl-delay, so it is switched off.
type robots struct {
	client  *http.Client
	agent   string
	limiter *fetch.Limiter

	mu    sync.Mutex
	hosts map[string]*robotsHost // by scheme://host
}

type robotsHost struct {
	once sync.Once
	data *robotstxt.RobotsData
	err  error
}

// check returns nil when u may be fetched, colly.ErrRobotsTxtBlocked when
// robots.txt forbids it, and another error when robots.txt cannot be
// read.
func (r *robots) check(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("parsing %s: %w", raw, err)
	}
	r.mu.Lock()
	h, ok := r.hosts[u.Scheme+"://"+u.Host]
	if !ok {
		h = &robotsHost{}
		r.hosts[u.Scheme+"://"+u.Host] = h
	}
	r.mu.Unlock()
	h.once.Do(func() { h.data, h.err = r.read(ctx, u) })
	if h.err != nil {
		return h.err
	}
	path := u.EscapedPath()
	if u.RawQuery != "" {
		path += "?" + u.RawQuery
	}
	if !h.data.TestAgent(path, r.agent) {
		return colly.ErrRobotsTxtBlocked
	}
	return nil
}

// read fetches and parses the robots.txt of u's host and sets the host's
// delay from its Crawl-delay.
func (r *robots) read(ctx context.Context, u *url.URL) (*robotstxt.RobotsData, error) {
	loc := u.Scheme + "://" + u.Host + "/robots.txt"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, loc, nil)
	if err != nil {
		return nil, fmt.Errorf("requesting %s: %w", loc, err)
	}
	req.Header.Set("User-Agent", r.agent)
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching robots.txt: %w", err)
	}
	defer resp.Body.Close()
	body, err := fetch.ReadAll(resp.Body, robotsMaxBytes, "robots.txt")
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", loc, err)
	}
	data, err := robotstxt.FromStatusAndBytes(resp.StatusCode, body)
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", loc, err)
	}
	if d := data.FindGroup(r.agent).CrawlDelay; d > 0 {
		r.limiter.SetDelay(u.Host, min(d, maxCrawlDelay))
	}
	return data, nil
}
