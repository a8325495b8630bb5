// Package crawler walks classifieds sites described in configs/sites (no
// code per site) with gocolly/colly, downloads each ad page and its images,
// and publishes them to JetStream. It respects robots.txt (its Crawl-delay
// too), a per-host rate limit, retries 429 and 5xx answers with backoff
// honouring Retry-After, and visits only URLs the site's allowed patterns
// admit. Every request goes through internal/fetch: only to the site's
// hosts (images: its image hosts), never to a private address unless the
// site allows it, with bodies capped after decompression.
package crawler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/PuerkitoBio/goquery"
	"github.com/gocolly/colly/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/net/html/charset"

	"github.com/adwatch/adwatch/internal/bus"
	"github.com/adwatch/adwatch/internal/fetch"
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
	// StorageFull is 1 while the message store refuses pages for want of
	// room (the crawl is paused), 0 otherwise.
	StorageFull prometheus.Gauge
}

// NewMetrics registers the crawler's metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Pages:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "adwatch_crawler_pages_fetched_total", Help: "Pages fetched, by kind (list, ad)."}, []string{"kind"}),
		Errors:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "adwatch_crawler_errors_total", Help: "Crawl errors by kind."}, []string{"kind"}),
		Images:  prometheus.NewCounter(prometheus.CounterOpts{Name: "adwatch_crawler_images_fetched_total", Help: "Images downloaded."}),
		Retries: prometheus.NewCounter(prometheus.CounterOpts{Name: "adwatch_crawler_retries_total", Help: "Requests retried after 429 or 5xx."}),
		StorageFull: prometheus.NewGauge(prometheus.GaugeOpts{Name: "adwatch_crawler_storage_full",
			Help: "1 while the message store refuses pages for want of room and the crawl is paused."}),
		Published: prometheus.NewCounter(prometheus.CounterOpts{Name: "adwatch_crawler_ads_published_total", Help: "New or changed ad pages published."}),
		Unchanged: prometheus.NewCounter(prometheus.CounterOpts{Name: "adwatch_crawler_ads_unchanged_total", Help: "Ad pages fetched again unchanged, not published."}),
		Fetch: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "adwatch_crawler_ad_seconds", Help: "Time to fetch and publish one ad page with its images.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
	}
	if reg != nil {
		reg.MustRegister(m.Pages, m.Errors, m.Images, m.Retries, m.Published, m.Unchanged, m.Fetch, m.StorageFull)
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
}

// Run crawls every site, then again every Interval, until ctx is done (or
// after one pass when Once is set). Every site is crawled at once; sites
// that share a host (their pages' or their images') share one budget
// (hostBudget): no more requests in flight to a host than the smallest
// parallelism among them, spaced by the largest delay, so that a host
// never sees more than one site's parallelism and delay. A site waiting
// only to retry a page the host refused for now leaves its share of the
// host to the others. A site that cannot be crawled (down,
// unreachable) does not stop the others: it is logged, counted as an
// "unreachable" error and tried again at the next pass. With Once, Run
// returns those failures together, in the sites' order, after crawling
// every other site.
func (c *Crawler) Run(ctx context.Context) error {
	groups := hostGroups(c.Sites)
	for {
		failed := make([]error, len(c.Sites))
		var wg sync.WaitGroup
		for _, g := range groups {
			budget := groupBudget(c.Sites, g)
			for _, i := range g {
				wg.Go(func() {
					st, err := c.crawl(ctx, &c.Sites[i], budget)
					if ctx.Err() != nil {
						return
					}
					if err != nil {
						c.Metrics.Errors.WithLabelValues("unreachable").Inc()
						c.Log.Warn("crawl failed; trying again at the next pass", "site", c.Sites[i].Name, "err", err)
						failed[i] = err
						return
					}
					c.Log.Info("crawl finished", "site", c.Sites[i].Name, "ads", st.Ads, "published", st.Published, "errors", st.Errors)
				})
			}
		}
		wg.Wait()
		if ctx.Err() != nil {
			return nil
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

// hostGroups groups the indexes of sites so that sites sharing a host
// (of their pages or of their images), directly or through another
// site, are in one group; each group in the sites' order, the groups in
// that of their first site.
func hostGroups(sites []site.Site) [][]int {
	parent := make([]int, len(sites))
	for i := range parent {
		parent[i] = i
	}
	var root func(int) int
	root = func(i int) int {
		if parent[i] != i {
			parent[i] = root(parent[i])
		}
		return parent[i]
	}
	owner := map[string]int{}
	for i := range sites {
		for _, h := range append(slices.Clone(sites[i].Hosts()), sites[i].ImageHostList()...) {
			h = strings.ToLower(h)
			if j, ok := owner[h]; ok {
				a, b := root(i), root(j)
				parent[max(a, b)] = min(a, b)
			} else {
				owner[h] = i
			}
		}
	}
	var groups [][]int
	at := map[int]int{}
	for i := range sites {
		r := root(i)
		k, ok := at[r]
		if !ok {
			k = len(groups)
			at[r] = k
			groups = append(groups, nil)
		}
		groups[k] = append(groups[k], i)
	}
	return groups
}

// Stats counts what one crawl did.
type Stats struct {
	Lists, Ads, Published, Unchanged, Errors int
}

type statsMu struct {
	sync.Mutex
	Stats
	// seen are the ad pages fetched (changed or not).
	seen []string
}

// pageTimeout bounds one page request (each hop of a redirect), from its
// turn at the host to the last byte of its body.
const pageTimeout = 30 * time.Second

// crawl is what one crawl of a site fetches with.
type crawl struct {
	site          *site.Site
	pages         fetch.Policy
	pageTransport *fetch.Transport
	pageRecorder  *recorder
	images        *http.Client
	robots        *robots
	// slots bounds the ad pages whose publication is under way
	// (publishAd); settling counts them until they are settled.
	slots    chan struct{}
	settling sync.WaitGroup
	// visited are the links colly has taken or refused for good in this
	// crawl (a visit, or a benign refusal: visited already, robots,
	// filters), which it would refuse again.
	visitedMu sync.Mutex
	visited   map[string]bool
}

// handed reports whether link was given to colly already in this crawl
// with an answer that does not change (hand).
func (cr *crawl) handed(link string) bool {
	cr.visitedMu.Lock()
	defer cr.visitedMu.Unlock()
	return cr.visited[link]
}

// hand records that colly took link, or refused it for good.
func (cr *crawl) hand(link string) {
	cr.visitedMu.Lock()
	defer cr.visitedMu.Unlock()
	cr.visited[link] = true
}

// pagesInFlight is how many ad pages per unit of a site's parallelism may
// wait for their publication to be acknowledged and their checksum
// recorded while the crawl goes on.
const pagesInFlight = 4

// hostBudget is what the sites sharing a host share of it: the limiter
// that spaces requests to each host, and the slots that bound the
// requests in flight to each host, pages, images and robots.txt alike.
type hostBudget struct {
	limiter *fetch.Limiter
	slots   *fetch.Slots
}

// groupBudget is the budget of the sites g (a host group): a limiter of
// the largest of their delays and as many slots a host as the smallest of
// their parallelisms; for a site alone, its own delay and parallelism.
// colly's parallelism alone would not bound a site's requests: colly
// gives a page's turn back before its OnResponse, where the page's images
// are fetched.
func groupBudget(sites []site.Site, g []int) hostBudget {
	delay, parallel := time.Duration(0), 0
	for k, i := range g {
		delay = max(delay, sites[i].Delay)
		if p := max(sites[i].Parallelism, 1); k == 0 || p < parallel {
			parallel = p
		}
	}
	return hostBudget{limiter: fetch.NewLimiter(delay), slots: fetch.NewSlots(parallel)}
}

// newCrawl makes the clients of one crawl of s: pages, robots.txt and
// images share the limiter and slots of budget. Call close when done.
func newCrawl(s *site.Site, budget hostBudget) *crawl {
	limiter := budget.limiter
	pages := fetch.Policy{Hosts: s.Hosts(), AllowPrivate: s.AllowPrivateAddresses, MaxBytes: int64(s.MaxBodyBytes),
		What: "page", Limiter: limiter, Slots: budget.slots, Timeout: pageTimeout}
	robotsPolicy := pages
	robotsPolicy.MaxBytes, robotsPolicy.What = robotsMaxBytes, "robots.txt"
	images := fetch.Policy{Hosts: s.ImageHostList(), AllowPrivate: s.AllowPrivateAddresses, MaxBytes: int64(s.MaxImageBytes),
		What: "image", Limiter: limiter, Slots: budget.slots, Timeout: s.ImageTimeout}
	pageTransport := pages.Transport()
	return &crawl{site: s, pages: pages, pageTransport: pageTransport, pageRecorder: newRecorder(pageTransport), images: images.Client(),
		robots: &robots{client: robotsPolicy.Client(), agent: s.UserAgent, limiter: limiter, hosts: map[string]*robotsHost{}},
		slots:  make(chan struct{}, pagesInFlight*max(s.Parallelism, 1)), visited: map[string]bool{}}
}

func (cr *crawl) close() {
	cr.pageTransport.CloseIdleConnections()
	cr.images.CloseIdleConnections()
	cr.robots.client.CloseIdleConnections()
}

// Crawl walks one site once, as the only site on its hosts.
func (c *Crawler) Crawl(ctx context.Context, s *site.Site) (Stats, error) {
	return c.crawl(ctx, s, groupBudget([]site.Site{*s}, []int{0}))
}

// crawl walks one site once within budget.
func (c *Crawler) crawl(ctx context.Context, s *site.Site, budget hostBudget) (Stats, error) {
	var st statsMu
	passStart := time.Now().UTC()
	// full is set when the store refuses a page for want of room: the
	// pass then fetches nothing more.
	var full atomic.Bool
	cr := newCrawl(s, budget)
	defer cr.close()

	col := colly.NewCollector(
		colly.Async(true),
		colly.UserAgent(s.UserAgent),
		colly.MaxBodySize(s.MaxBodyBytes+1),
		colly.StdlibContext(ctx),
	)
	// robots.txt is read by cr.robots: colly's reads it whole and
	// ignores Crawl-delay.
	col.IgnoreRobotsTxt = true
	col.URLFilters = s.AllowedPatterns()
	col.WithTransport(cr.pageRecorder)
	col.SetRedirectHandler(cr.pages.CheckRedirect)
	col.SetRequestTimeout(0) // the transport's pageTimeout, which leaves out the wait for the host's turn
	// The limiter spaces requests by the delay; colly only bounds how
	// many are in flight.
	if err := col.Limit(&colly.LimitRule{DomainGlob: "*", Parallelism: s.Parallelism}); err != nil {
		return Stats{}, fmt.Errorf("setting rate limit of %s: %w", s.Name, err)
	}
	countErr := func(kind string) {
		c.Metrics.Errors.WithLabelValues(kind).Inc()
		st.Lock()
		st.Errors++
		st.Unlock()
	}
	col.OnRequest(func(r *colly.Request) {
		if full.Load() {
			r.Abort()
		}
	})
	col.OnHTML("a[href]", func(e *colly.HTMLElement) {
		link := e.Request.AbsoluteURL(e.Attr("href"))
		if link == "" || !s.Allowed(link) || !(s.IsListPage(link) || s.IsAdPage(link)) {
			return
		}
		if cr.handed(link) {
			// Given to colly already, which would refuse it as visited
			// (the nav links of every ad page): not parsed again.
			return
		}
		err := cr.robots.check(ctx, link)
		if err == nil {
			err = e.Request.Visit(link)
		}
		switch {
		case err == nil, isBenignVisitErr(err):
			cr.hand(link)
		case ctx.Err() != nil:
		default:
			countErr(errKind(err, "visit"))
			c.Log.Warn("link not visited", "page", record.PageRef(link), "err", redactErr(err, link))
		}
	})
	col.OnResponse(func(r *colly.Response) {
		u := r.Request.URL.String()
		served, _ := cr.pageRecorder.take(u)
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
		if full.Load() {
			st.Lock()
			st.Errors++
			st.Unlock()
			return
		}
		c.publishAd(ctx, cr, u, toUTF8(r.Body, r.Headers.Get("Content-Type")), served, func(published bool, err error) {
			if bus.StorageFull(err) && !full.Swap(true) {
				c.Metrics.StorageFull.Set(1)
				c.Log.Error("the message store is full: crawl paused; nothing stored is lost, the rest is fetched on a later pass once there is room",
					"site", s.Name, "err", err)
			}
			st.Lock()
			defer st.Unlock()
			st.Ads++
			if err == nil {
				st.seen = append(st.seen, u)
			}
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
	})
	col.OnError(func(r *colly.Response, err error) {
		u := r.Request.URL.String()
		cr.pageRecorder.take(u)
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
		default:
			kind = errKind(err, kind)
		}
		countErr(kind)
		c.Log.Warn("fetch failed", "page", record.PageRef(u), "status", r.StatusCode, "err", redactErr(err, u))
	})
	for _, u := range s.Starts() {
		err := cr.robots.check(ctx, u)
		if err == nil {
			err = col.Visit(u)
		}
		if err != nil && !isBenignVisitErr(err) {
			col.Wait()
			cr.settling.Wait()
			if kind := errKind(err, ""); kind != "" {
				c.Metrics.Errors.WithLabelValues(kind).Inc()
			}
			return Stats{}, fmt.Errorf("starting crawl of %s at %s: %w", s.Name, u, redactErr(err, u))
		}
	}
	col.Wait()
	// Every page's publication acknowledged (or failed) and its
	// checksum recorded before the pass is judged.
	cr.settling.Wait()
	if err := ctx.Err(); err != nil {
		return st.Stats, fmt.Errorf("crawling %s: %w", s.Name, err)
	}
	if full.Load() {
		return st.Stats, fmt.Errorf("crawling %s: paused, the message store is full", s.Name)
	}
	c.Metrics.StorageFull.Set(0)
	c.publishPass(ctx, s, passStart, &st)
	return st.Stats, nil
}

// publishPass publishes what a complete pass found, so the indexer can
// mark the ads no longer found as gone. A pass with errors says nothing:
// an ad it missed may still be up.
func (c *Crawler) publishPass(ctx context.Context, s *site.Site, start time.Time, st *statsMu) {
	if st.Errors > 0 {
		c.Log.Info("crawl pass had errors: no ad is marked gone after it", "site", s.Name, "errors", st.Errors)
		return
	}
	data, err := json.Marshal(record.SitePass{Site: s.Name, Started: start, Finished: time.Now().UTC(), AdURLs: st.seen})
	if err == nil {
		_, err = c.JS.Publish(ctx, bus.SubjectPasses+"."+bus.KeyToken(s.Name), data)
	}
	if err != nil {
		c.Log.Error("what the pass found was not published; no ad is marked gone after it", "site", s.Name, "err", err)
	}
}

// errKind is the kind an error is counted under in
// adwatch_crawler_errors_total: the reason internal/fetch refused a
// request, else fallback.
func errKind(err error, fallback string) string {
	switch {
	case errors.Is(err, fetch.ErrBlockedAddress):
		return "blocked_address"
	case errors.Is(err, fetch.ErrRedirect):
		return "redirect"
	case errors.Is(err, fetch.ErrHostNotAllowed), errors.Is(err, fetch.ErrScheme):
		return "blocked_host"
	case errors.Is(err, fetch.ErrTooLarge):
		return "too_large"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, errNotImage):
		return "not_image"
	case errors.Is(err, colly.ErrRobotsTxtBlocked):
		return "robots"
	}
	return fallback
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
// before, with its exchange (served) when the recorder has it, and calls
// done with whether it published. The page is read, its images fetched
// and stored, and its message sent before publishAd returns; the wait
// for the stream's acknowledgement and the page's checksum written after
// it are not waited for: done is called when they are over, on another
// goroutine (cr.settling counts them, and cr.slots bounds them).
func (c *Crawler) publishAd(ctx context.Context, cr *crawl, u string, body []byte, served captured, done func(published bool, err error)) {
	s := cr.site
	start := time.Now()
	sum := record.SHA256Hex(body)
	key := record.SHA256Hex([]byte(u))[:40]
	// A page whose images all came (or failed for good) is recorded by
	// its checksum and skipped while unchanged; one with an image that
	// failed for a passing reason is fetched again next pass, until the
	// image comes or the ad is gone.
	if e, err := c.PageSums.Get(ctx, key); err == nil && string(e.Value()) == sum {
		c.Metrics.Unchanged.Inc()
		done(false, nil)
		return
	}
	page := record.Page{Site: s.Name, URL: u, FetchedAt: time.Now().UTC(), SHA256: sum, HTML: body}
	incomplete := false
	if served.capture != nil {
		page.Capture, page.FetchedAt = served.capture, served.capture.At
		if !bytes.Equal(served.body, body) {
			page.Raw = served.body
		}
	}
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(body))
	if err == nil {
		srcs := s.Fields.Images.Values(doc, u)
		if len(srcs) > s.MaxImages {
			c.Metrics.Errors.WithLabelValues("too_many_images").Inc()
			c.Log.Warn("ad with more images than max_images; the rest not downloaded", "page", record.PageRef(u), "images", len(srcs), "max_images", s.MaxImages)
			srcs = srcs[:s.MaxImages]
		}
		for _, src := range srcs {
			abs, err := resolve(u, src)
			if err != nil {
				page.Images = append(page.Images, record.ImageRef{URL: src, Error: err.Error()})
				continue
			}
			ref, passing := c.fetchImage(ctx, cr, abs)
			page.Images = append(page.Images, ref)
			incomplete = incomplete || passing
		}
	}
	data, err := json.Marshal(page)
	if err != nil {
		done(false, fmt.Errorf("encoding page: %w", err))
		return
	}
	msg := &nats.Msg{Subject: bus.SubjectPages + "." + s.Name, Data: data, Header: nats.Header{}}
	// The same page with the same images is stored once; with an image
	// that came on a later pass it is a new capture.
	msg.Header.Set(jetstream.MsgIDHeader, key+"/"+sum+imagesTag(page.Images))
	recorded := sum
	if incomplete {
		recorded = sum + pendingSuffix
	}
	select {
	case cr.slots <- struct{}{}:
	case <-ctx.Done():
		done(false, fmt.Errorf("publishing page: %w", ctx.Err()))
		return
	}
	cr.settling.Add(1)
	future, err := c.JS.PublishMsgAsync(msg)
	go func() {
		defer func() {
			<-cr.slots
			cr.settling.Done()
		}()
		published, err := c.settle(ctx, msg, future, err, key, recorded)
		if published {
			c.Metrics.Published.Inc()
			c.Metrics.Fetch.Observe(time.Since(start).Seconds())
		}
		done(published, err)
	}()
}

// pendingSuffix marks the recorded checksum of a page with an image that
// failed for a passing reason: it does not match the page's checksum, so
// the page is fetched again next pass.
const pendingSuffix = "/images-pending"

// pageAckWait is how long a page sent asynchronously waits for its
// acknowledgement before it is published again, synchronously (its
// message id keeps it stored once): the wait of a synchronous
// publication.
const pageAckWait = 5 * time.Second

// settle waits for the acknowledgement of the page msg (future, or the
// error of sending it), then records its checksum (recorded) under key.
// A page whose acknowledgement does not come, or comes with an error of a
// cluster that has lost a node or elects a leader, is published again
// for up to a minute, as a synchronous publication would be. It reports
// whether the page was stored as a new capture.
func (c *Crawler) settle(ctx context.Context, msg *nats.Msg, future jetstream.PubAckFuture, err error, key, recorded string) (bool, error) {
	var ack *jetstream.PubAck
	if err == nil {
		t := time.NewTimer(pageAckWait)
		select {
		case ack = <-future.Ok():
		case err = <-future.Err():
		case <-t.C:
			err = nats.ErrTimeout
		case <-ctx.Done():
			err = ctx.Err()
		}
		t.Stop()
	}
	if err != nil && ctx.Err() == nil && (!isAPIError(err) || bus.Transient(err)) {
		// A cluster that lost a node answers again within seconds: the
		// page waits for it rather than for the next pass.
		again := &nats.Msg{Subject: msg.Subject, Data: msg.Data, Header: msg.Header}
		ack, err = bus.PublishMsg(ctx, c.JS, again, time.Minute, c.Log)
	}
	if err != nil {
		return false, fmt.Errorf("publishing page: %w", err)
	}
	if strings.HasSuffix(recorded, pendingSuffix) {
		c.Metrics.Errors.WithLabelValues("image_retry").Inc()
	}
	// Recorded once the page is stored: tried again for up to a minute
	// while the cluster has lost a node or elects the bucket's leader.
	err = bus.Retry(ctx, time.Minute, c.Log, "recording page", func() error {
		_, err := c.PageSums.Put(ctx, key, []byte(recorded))
		return err
	})
	if err != nil {
		return false, fmt.Errorf("recording page: %w", err)
	}
	if ack.Duplicate {
		// The same capture again (its images still failing): stored once.
		c.Metrics.Unchanged.Inc()
		return false, nil
	}
	return true, nil
}

// isAPIError reports whether err is the stream's answer (a refusal: the
// store full, a message too large) rather than a failure to get one.
func isAPIError(err error) bool {
	var api *jetstream.APIError
	return errors.As(err, &api)
}

// imagesTag distinguishes captures of one page by the images they hold:
// empty when every image came, else a short hash of the images' SHA-256s.
func imagesTag(refs []record.ImageRef) string {
	var b strings.Builder
	failed := false
	for _, r := range refs {
		b.WriteString(r.SHA256)
		if r.Error != "" {
			b.WriteByte('!')
			failed = true
		}
		b.WriteByte(',')
	}
	if !failed {
		return ""
	}
	return "/" + record.SHA256Hex([]byte(b.String()))[:12]
}

// errGone marks an image the server says it will not give (4xx).
var errGone = errors.New("refused by the server")

// permanent reports whether an image failure will not pass by itself: an
// address or host the site may not use, a redirect refused, a body too
// large or not an image, an answer of 4xx.
func permanent(err error) bool {
	if errors.Is(err, errGone) {
		return true
	}
	switch errKind(err, "") {
	case "blocked_address", "blocked_host", "redirect", "too_large", "not_image":
		return true
	}
	return false
}

// fetchImage downloads one image into the object store; a failure is
// recorded in the ref and the ad is kept. passing is true for a failure
// worth trying again on the next pass.
func (c *Crawler) fetchImage(ctx context.Context, cr *crawl, u string) (ref record.ImageRef, passing bool) {
	ref = record.ImageRef{URL: u}
	data, capture, err := c.get(ctx, cr, u)
	if err == nil {
		err = checkImage(u, data)
	}
	if err != nil {
		c.Metrics.Errors.WithLabelValues(errKind(err, "image")).Inc()
		c.Log.Debug("image not downloaded", "image", record.PageRef(u), "err", redactErr(err, u))
		ref.Error = err.Error()
		return ref, !permanent(err)
	}
	c.Metrics.Images.Inc()
	ref.SHA256 = record.SHA256Hex(data)
	ref.Size = int64(len(data))
	capture.SHA256, capture.Size = ref.SHA256, ref.Size
	ref.Capture = capture
	if err := c.storeImage(ctx, ref.SHA256, data); err != nil {
		c.Metrics.Errors.WithLabelValues("image_store").Inc()
		ref.Error = fmt.Sprintf("storing image: %v", err)
		return ref, true
	}
	return ref, false
}

// Storing an image: each attempt may take storeTimeout, and a failed one
// is tried again storeAttempts times in all. Without a deadline of its own
// the object store gives up on a chunk after the client's default 5-second
// ack wait, which a busy server (fsyncing every write, or recovering after
// a crash) can exceed; a photo lost that way would never link its ad. With
// a deadline it waits for every chunk's ack until then, and an ack lost
// with a cluster node (the chunk stored, its answer not) holds the attempt
// that long: half a minute, not more, so that a lost node does not stall
// the crawl for minutes.
const (
	storeTimeout  = 30 * time.Second
	storeAttempts = 3
)

var storeBackoff = retry.Backoff{Base: time.Second, Max: 10 * time.Second}

// storeImage puts data in the image store under sha unless it is there,
// whole. An object's description is written after its chunks but without
// waiting for them, so a put cut short (a chunk lost with a cluster node)
// can leave a description whose chunks are missing: such an object counts
// as absent and is put again, and an attempt after a failed one puts
// without looking.
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
			if attempt == 0 {
				if info, err := c.Images.GetInfo(actx, sha); err == nil && c.whole(actx, info) {
					return nil
				}
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

// whole reports whether every chunk the object's description counts is in
// its bucket's stream (an object store keeps them under one subject per
// object). When the stream cannot be asked, the object is taken as
// broken: putting it again costs a copy, never a loss.
func (c *Crawler) whole(ctx context.Context, info *jetstream.ObjectInfo) bool {
	if c.JS == nil || info.Chunks == 0 {
		return true
	}
	subject := "$O." + info.Bucket + ".C." + info.NUID
	st, err := c.JS.Stream(ctx, "OBJ_"+info.Bucket)
	if err != nil {
		return false
	}
	si, err := st.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		return false
	}
	return si.State.Subjects[subject] >= uint64(info.Chunks)
}

// ErrTooLarge is returned for a download over its size limit.
var ErrTooLarge = fetch.ErrTooLarge

var errNotImage = errors.New("not an image")

// checkImage refuses a body that is not an image by its first bytes (an
// HTML page served at an image URL: a login wall, a soft 404).
func checkImage(u string, data []byte) error {
	if typ := http.DetectContentType(data); !strings.HasPrefix(typ, "image/") {
		return fmt.Errorf("fetching %s: %w: its content is %s", u, errNotImage, typ)
	}
	return nil
}

// get downloads the image u with retries on 429 and 5xx and returns it
// with the exchange of the attempt that brought it; cr.images enforces
// the image hosts, the addresses, the size limit and the deadline of each
// attempt.
func (c *Crawler) get(ctx context.Context, cr *crawl, u string) ([]byte, *record.Capture, error) {
	s := cr.site
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, nil, fmt.Errorf("requesting %s: %w", u, err)
		}
		req.Header.Set("User-Agent", s.UserAgent)
		resp, capture, err := capturedDo(ctx, cr.images, req)
		if err != nil {
			return nil, nil, fmt.Errorf("fetching %s: %w", u, unwrapURLError(err))
		}
		if (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500) && attempt < s.Retries {
			resp.Body.Close()
			c.Metrics.Retries.Inc()
			select {
			case <-ctx.Done():
				return nil, nil, ctx.Err()
			case <-time.After(pageBackoff.Wait(attempt, resp.Header.Get("Retry-After"))):
			}
			continue
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			err := fmt.Errorf("fetching %s: status %d", u, resp.StatusCode)
			if resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusRequestTimeout {
				// Gone, forbidden, not found: not worth another pass.
				err = fmt.Errorf("%w: %w", errGone, err)
			}
			return nil, nil, err
		}
		data, err := io.ReadAll(resp.Body)
		if err != nil {
			return nil, nil, fmt.Errorf("reading %s: %w", u, err)
		}
		return data, capture, nil
	}
}

// unwrapURLError drops the *url.Error around a client's error: it repeats
// the URL the caller names already.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// toUTF8 returns an HTML page's body in UTF-8. colly converts a body whose
// Content-Type names a charset. A body that names none and is valid UTF-8
// is kept as it is (a page declaring windows-1252 but written in UTF-8 is
// common); one that is not is decoded from the charset the page itself
// names (a BOM, or a meta charset or http-equiv tag in its first 1,024
// bytes, as browsers read it), else from windows-1252, the web's default.
// A body served as something other than HTML or text is kept as it is.
func toUTF8(body []byte, contentType string) []byte {
	media, params, err := mime.ParseMediaType(contentType)
	if err == nil && (params["charset"] != "" || !isHTML(media)) {
		return body
	}
	if utf8.Valid(body) {
		return body
	}
	enc, _, _ := charset.DetermineEncoding(body, "text/html")
	out, err := enc.NewDecoder().Bytes(body)
	if err != nil {
		return body
	}
	return bytes.TrimPrefix(out, []byte("\uFEFF"))
}

// isHTML reports whether a media type is one a page is served as; any
// other (a gzip archive, an image) is kept as its bytes.
func isHTML(media string) bool {
	return media == "text/html" || media == "application/xhtml+xml" || media == "text/plain"
}
