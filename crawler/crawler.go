// Package crawler walks classifieds sites described in configs/sites (no
// code per site) with gocolly/colly, downloads each ad page and its images,
// and publishes them to JetStream. It respects robots.txt, a per-host rate
// limit, retries 429 and 5xx answers with backoff honouring Retry-After,
// and visits only URLs the site's allowed patterns admit.
package crawler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/gocolly/colly/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/adwatch/adwatch/internal/bus"
	"github.com/adwatch/adwatch/internal/record"
	"github.com/adwatch/adwatch/internal/retry"
	"github.com/adwatch/adwatch/internal/site"
)

// Metrics are the crawler's Prometheus metrics.
type Metrics struct {
	Pages     *prometheus.CounterVec
	Errors    *prometheus.CounterVec
	Images    prometheus.Counter
	Retries   prometheus.Counter
	Published prometheus.Counter
	Unchanged prometheus.Counter
	Fetch     prometheus.Histogram
}

// NewMetrics registers the crawler's metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Pages:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "adwatch_crawler_pages_fetched_total", Help: "Pages fetched, by kind (list, ad)."}, []string{"kind"}),
		Errors:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "adwatch_crawler_errors_total", Help: "Crawl errors by kind."}, []string{"kind"}),
		Images:    prometheus.NewCounter(prometheus.CounterOpts{Name: "adwatch_crawler_images_fetched_total", Help: "Images downloaded."}),
		Retries:   prometheus.NewCounter(prometheus.CounterOpts{Name: "adwatch_crawler_retries_total", Help: "Requests retried after 429 or 5xx."}),
		Published: prometheus.NewCounter(prometheus.CounterOpts{Name: "adwatch_crawler_ads_published_total", Help: "New or changed ad pages published."}),
		Unchanged: prometheus.NewCounter(prometheus.CounterOpts{Name: "adwatch_crawler_ads_unchanged_total", Help: "Ad pages fetched again unchanged, not published."}),
		Fetch: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "adwatch_crawler_ad_seconds", Help: "Time to fetch and publish one ad page with its images.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
	}
	if reg != nil {
		reg.MustRegister(m.Pages, m.Errors, m.Images, m.Retries, m.Published, m.Unchanged, m.Fetch)
	}
	return m
}

// Crawler crawls sites and publishes what it finds.
type Crawler struct {
	Sites []site.Site
	// JS publishes the ad pages.
	JS jetstream.JetStream
	// Images stores the ads' image bytes.
	Images jetstream.ObjectStore
	// PageSums records the checksum of each page published, by URL.
	PageSums jetstream.KeyValue
	Log      *slog.Logger
	Metrics  *Metrics
	// Interval between crawls in Run.
	Interval time.Duration
	// Once makes Run crawl every site once and return.
	Once bool
	// HTTP is the client for images; nil means a default with a timeout.
	HTTP *http.Client
}

// Run crawls every site, then again every Interval, until ctx is done (or
// after one pass when Once is set). A site that cannot be crawled (down,
// unreachable) does not stop the others: it is logged, counted as an
// "unreachable" error and tried again at the next pass. With Once, Run
// returns those failures together after crawling every other site.
func (c *Crawler) Run(ctx context.Context) error {
	for {
		var failed []error
		for i := range c.Sites {
			st, err := c.Crawl(ctx, &c.Sites[i])
			if ctx.Err() != nil {
				return nil
			}
			if err != nil {
				c.Metrics.Errors.WithLabelValues("unreachable").Inc()
				c.Log.Warn("crawl failed; trying again at the next pass", "site", c.Sites[i].Name, "err", err)
				failed = append(failed, err)
				continue
			}
			c.Log.Info("crawl finished", "site", c.Sites[i].Name, "ads", st.Ads, "published", st.Published, "errors", st.Errors)
		}
		if c.Once {
			return errors.Join(failed...)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(c.Interval):
		}
	}
}

// Stats counts what one crawl did.
type Stats struct {
	Lists, Ads, Published, Unchanged, Errors int
}

type statsMu struct {
	sync.Mutex
	Stats
}

// Crawl walks one site once.
func (c *Crawler) Crawl(ctx context.Context, s *site.Site) (Stats, error) {
	var st statsMu
	col := colly.NewCollector(
		colly.Async(true),
		colly.UserAgent(s.UserAgent),
		colly.MaxBodySize(s.MaxBodyBytes+1),
		colly.StdlibContext(ctx),
	)
	col.IgnoreRobotsTxt = false
	col.URLFilters = s.AllowedPatterns()
	col.SetRequestTimeout(30 * time.Second)
	if err := col.Limit(&colly.LimitRule{DomainGlob: "*", Parallelism: s.Parallelism, Delay: s.Delay}); err != nil {
		return Stats{}, fmt.Errorf("setting rate limit of %s: %w", s.Name, err)
	}
	col.OnHTML("a[href]", func(e *colly.HTMLElement) {
		link := e.Request.AbsoluteURL(e.Attr("href"))
		if link == "" || !s.Allowed(link) || !(s.IsListPage(link) || s.IsAdPage(link)) {
			return
		}
		if err := e.Request.Visit(link); err != nil && !isBenignVisitErr(err) {
			c.Metrics.Errors.WithLabelValues("visit").Inc()
			c.Log.Debug("link not visited", "url", link, "err", err)
		}
	})
	col.OnResponse(func(r *colly.Response) {
		u := r.Request.URL.String()
		if len(r.Body) > s.MaxBodyBytes {
			c.Metrics.Errors.WithLabelValues("too_large").Inc()
			c.Log.Warn("page over the size limit, not published", "page", record.PageRef(u), "limit", s.MaxBodyBytes)
			st.Lock()
			st.Errors++
			st.Unlock()
			return
		}
		if !s.IsAdPage(u) {
			c.Metrics.Pages.WithLabelValues("list").Inc()
			st.Lock()
			st.Lists++
			st.Unlock()
			return
		}
		c.Metrics.Pages.WithLabelValues("ad").Inc()
		published, err := c.publishAd(ctx, s, u, r.Body)
		st.Lock()
		defer st.Unlock()
		st.Ads++
		switch {
		case err != nil:
			st.Errors++
			c.Metrics.Errors.WithLabelValues("publish").Inc()
			c.Log.Error("ad page not published", "page", record.PageRef(u), "err", redactErr(err, u))
		case published:
			st.Published++
		default:
			st.Unchanged++
		}
	})
	col.OnError(func(r *colly.Response, err error) {
		u := r.Request.URL.String()
		if r.StatusCode == http.StatusTooManyRequests || r.StatusCode >= 500 {
			// colly shares one Context between a page and the links it visits,
			// so the attempt count is kept per URL.
			attempt, _ := r.Ctx.GetAny("attempt " + u).(int)
			if attempt < s.Retries {
				r.Ctx.Put("attempt "+u, attempt+1)
				wait := pageBackoff.Wait(attempt, r.Headers.Get("Retry-After"))
				c.Metrics.Retries.Inc()
				c.Log.Debug("retrying", "url", u, "status", r.StatusCode, "wait", wait)
				select {
				case <-ctx.Done():
					return
				case <-time.After(wait):
				}
				rerr := r.Request.Retry()
				if rerr == nil {
					return
				}
				err = fmt.Errorf("retrying: %w (after %v)", rerr, err)
			}
		}
		kind := "fetch"
		switch {
		case r.StatusCode == http.StatusTooManyRequests:
			kind = "rate_limited"
		case r.StatusCode >= 500:
			kind = "server"
		case r.StatusCode >= 400:
			kind = "client"
		case errors.Is(err, colly.ErrRobotsTxtBlocked):
			kind = "robots"
		}
		c.Metrics.Errors.WithLabelValues(kind).Inc()
		st.Lock()
		st.Errors++
		st.Unlock()
		c.Log.Warn("fetch failed", "page", record.PageRef(u), "status", r.StatusCode, "err", redactErr(err, u))
	})
	for _, u := range s.Starts() {
		if err := col.Visit(u); err != nil && !isBenignVisitErr(err) {
			return Stats{}, fmt.Errorf("starting crawl of %s at %s: %w", s.Name, u, err)
		}
	}
	col.Wait()
	if err := ctx.Err(); err != nil {
		return st.Stats, fmt.Errorf("crawling %s: %w", s.Name, err)
	}
	return st.Stats, nil
}

func isBenignVisitErr(err error) bool {
	var already *colly.AlreadyVisitedError
	return errors.As(err, &already) || errors.Is(err, colly.ErrRobotsTxtBlocked) ||
		errors.Is(err, colly.ErrNoURLFiltersMatch) || errors.Is(err, colly.ErrForbiddenURL) ||
		errors.Is(err, colly.ErrMaxDepth)
}

// pageBackoff is the wait before retrying a page or image answered 429 or
// 5xx: the server's Retry-After when given, else exponential from 500ms,
// capped at 30s.
var pageBackoff = retry.Backoff{Base: 500 * time.Millisecond, Max: 30 * time.Second}

// publishAd publishes an ad page unless the same content was published
// before. It reports whether it published.
func (c *Crawler) publishAd(ctx context.Context, s *site.Site, u string, body []byte) (bool, error) {
	start := time.Now()
	sum := record.SHA256Hex(body)
	key := record.SHA256Hex([]byte(u))[:40]
	if e, err := c.PageSums.Get(ctx, key); err == nil && string(e.Value()) == sum {
		c.Metrics.Unchanged.Inc()
		return false, nil
	}
	page := record.Page{Site: s.Name, URL: u, FetchedAt: time.Now().UTC(), SHA256: sum, HTML: body}
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(body))
	if err == nil {
		for _, src := range s.Fields.Images.Values(doc, u) {
			abs, err := resolve(u, src)
			if err != nil {
				page.Images = append(page.Images, record.ImageRef{URL: src, Error: err.Error()})
				continue
			}
			page.Images = append(page.Images, c.fetchImage(ctx, s, abs))
		}
	}
	data, err := json.Marshal(page)
	if err != nil {
		return false, fmt.Errorf("encoding page: %w", err)
	}
	msg := &nats.Msg{Subject: bus.SubjectPages + "." + s.Name, Data: data, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, key+"/"+sum)
	if _, err := c.JS.PublishMsg(ctx, msg); err != nil {
		return false, fmt.Errorf("publishing page: %w", err)
	}
	if _, err := c.PageSums.Put(ctx, key, []byte(sum)); err != nil {
		return false, fmt.Errorf("recording page: %w", err)
	}
	c.Metrics.Published.Inc()
	c.Metrics.Fetch.Observe(time.Since(start).Seconds())
	return true, nil
}

// fetchImage downloads one image into the object store; a failure is
// recorded in the ref and the ad is kept.
func (c *Crawler) fetchImage(ctx context.Context, s *site.Site, u string) record.ImageRef {
	ref := record.ImageRef{URL: u}
	data, err := c.get(ctx, s, u, s.MaxImageBytes)
	if err != nil {
		c.Metrics.Errors.WithLabelValues("image").Inc()
		ref.Error = err.Error()
		return ref
	}
	c.Metrics.Images.Inc()
	ref.SHA256 = record.SHA256Hex(data)
	ref.Size = int64(len(data))
	if err := c.storeImage(ctx, ref.SHA256, data); err != nil {
		c.Metrics.Errors.WithLabelValues("image_store").Inc()
		ref.Error = fmt.Sprintf("storing image: %v", err)
	}
	return ref
}

// Storing an image: each attempt may take storeTimeout, and a failed one
// is tried again storeAttempts times in all. Without a deadline of its own
// the object store gives up on a chunk after the client's default 5-second
// ack wait, which a busy server (fsyncing every write, or recovering after
// a crash) can exceed; a photo lost that way would never link its ad.
const (
	storeTimeout  = 2 * time.Minute
	storeAttempts = 3
)

var storeBackoff = retry.Backoff{Base: time.Second, Max: 10 * time.Second}

// storeImage puts data in the image store under sha unless it is there.
func (c *Crawler) storeImage(ctx context.Context, sha string, data []byte) error {
	var err error
	for attempt := 0; attempt < storeAttempts; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return err
			case <-time.After(storeBackoff.Wait(attempt-1, "")):
			}
		}
		err = func() error {
			actx, cancel := context.WithTimeout(ctx, storeTimeout)
			defer cancel()
			if _, err := c.Images.GetInfo(actx, sha); err == nil {
				return nil
			}
			_, err := c.Images.PutBytes(actx, sha, data)
			return err
		}()
		if err == nil || ctx.Err() != nil {
			return err
		}
	}
	return err
}

// ErrTooLarge is returned for a download over its size limit.
var ErrTooLarge = errors.New("download over the size limit")

// get downloads u with retries on 429 and 5xx, refusing more than limit bytes.
func (c *Crawler) get(ctx context.Context, s *site.Site, u string, limit int) ([]byte, error) {
	client := c.HTTP
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, fmt.Errorf("requesting %s: %w", u, err)
		}
		req.Header.Set("User-Agent", s.UserAgent)
		resp, err := client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("fetching %s: %w", u, err)
		}
		if (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500) && attempt < s.Retries {
			resp.Body.Close()
			c.Metrics.Retries.Inc()
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(pageBackoff.Wait(attempt, resp.Header.Get("Retry-After"))):
			}
			continue
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("fetching %s: status %d", u, resp.StatusCode)
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, int64(limit)+1))
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", u, err)
		}
		if len(data) > limit {
			return nil, fmt.Errorf("fetching %s: %w (%d bytes)", u, ErrTooLarge, limit)
		}
		return data, nil
	}
}
