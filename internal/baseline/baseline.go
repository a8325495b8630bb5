// Package baseline is what adwatch bench measures the pipeline against:
// the plain libraries chained one after the other on the same site, with
// none of adwatch's code. A gocolly/colly crawl follows the list pages to
// the ad pages, where goquery picks the ad's text and image URLs; then
// every image is downloaded with net/http; then each distinct image is
// decoded and hashed with goimagehash's PerceptionHash; then the ads are
// indexed in bleve batches of 1,000. Each step is timed on its own.
package baseline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // the photos are JPEGs
	"io"
	"net/http"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/blevesearch/bleve/v2"
	"github.com/corona10/goimagehash"
	"github.com/gocolly/colly/v2"
)

// Layout says where a site's ad pages keep an ad's parts: CSS selectors
// under the page, the images' URLs in ImageAttr of the Images elements.
type Layout struct {
	// AdPage matches the path (and query) of the layout's ad pages.
	AdPage *regexp.Regexp
	// Title, Body, City, Poster and Phone select the ad's text fields.
	Title, Body, City, Poster, Phone string
	// Images selects the elements that hold the image URLs.
	Images    string
	ImageAttr string
}

// Site is what the chain crawls: where to start, which links to follow
// (each pattern matches a path with its query) and the ad pages' layouts.
type Site struct {
	Base   string
	Starts []string
	Follow []*regexp.Regexp
	// Avoid matches the paths the site's robots.txt disallows.
	Avoid       []*regexp.Regexp
	Layouts     []Layout
	Parallelism int
	// Retries is how often a page answered 429 or 5xx is asked again,
	// after the server's Retry-After (one second without it).
	Retries int
}

// Ad is one ad as the chain reads it.
type Ad struct {
	URL                              string
	Title, Body, City, Poster, Phone string
	Images                           []string
	PHashes                          []string
}

// Result holds what one run of the chain did and how long each step took.
type Result struct {
	Ads, Images, Distinct, Failed int
	Crawl, Download, Hash, Index  time.Duration
}

// Total is the four steps' sum.
func (r Result) Total() time.Duration { return r.Crawl + r.Download + r.Hash + r.Index }

// Run crawls s, downloads every image of every ad, hashes each distinct
// one and indexes the ads into a new bleve index at dir.
func Run(ctx context.Context, s Site, dir string) (Result, error) {
	var res Result
	start := time.Now()
	ads, err := crawl(ctx, s)
	if err != nil {
		return res, err
	}
	res.Crawl, res.Ads = time.Since(start), len(ads)

	start = time.Now()
	shaOf, images, failed, err := download(ctx, ads, s.Parallelism)
	if err != nil {
		return res, err
	}
	res.Download, res.Failed = time.Since(start), failed
	for _, a := range ads {
		res.Images += len(a.Images)
	}

	start = time.Now()
	hashes, err := hashAll(images)
	if err != nil {
		return res, err
	}
	res.Hash, res.Distinct = time.Since(start), len(hashes)
	for i := range ads {
		for _, u := range ads[i].Images {
			if h, ok := hashes[shaOf[u]]; ok {
				ads[i].PHashes = append(ads[i].PHashes, h)
			}
		}
	}

	start = time.Now()
	if err := index(ads, dir); err != nil {
		return res, err
	}
	res.Index = time.Since(start)
	return res, nil
}

// crawl walks s with colly and returns its ads.
func crawl(ctx context.Context, s Site) ([]Ad, error) {
	c := colly.NewCollector(colly.Async(true), colly.StdlibContext(ctx))
	if err := c.Limit(&colly.LimitRule{DomainGlob: "*", Parallelism: s.Parallelism}); err != nil {
		return nil, fmt.Errorf("colly limit: %w", err)
	}
	follow := func(u string) bool {
		rest, ok := strings.CutPrefix(u, s.Base)
		if !ok {
			return false
		}
		for _, re := range s.Avoid {
			if re.MatchString(rest) {
				return false
			}
		}
		for _, re := range s.Follow {
			if re.MatchString(rest) {
				return true
			}
		}
		return false
	}
	var mu sync.Mutex
	var ads []Ad
	var errs []error
	c.OnHTML("a[href]", func(e *colly.HTMLElement) {
		if u := e.Request.AbsoluteURL(e.Attr("href")); follow(u) {
			_ = e.Request.Visit(u) // already visited: nothing to do
		}
	})
	c.OnHTML("html", func(e *colly.HTMLElement) {
		rest := strings.TrimPrefix(e.Request.URL.String(), s.Base)
		for _, l := range s.Layouts {
			if !l.AdPage.MatchString(rest) {
				continue
			}
			a := Ad{URL: e.Request.URL.String(), Title: text(e.DOM, l.Title), Body: text(e.DOM, l.Body),
				City: text(e.DOM, l.City), Poster: text(e.DOM, l.Poster), Phone: text(e.DOM, l.Phone)}
			e.DOM.Find(l.Images).Each(func(_ int, img *goquery.Selection) {
				if src, ok := img.Attr(l.ImageAttr); ok {
					a.Images = append(a.Images, e.Request.AbsoluteURL(src))
				}
			})
			mu.Lock()
			ads = append(ads, a)
			mu.Unlock()
			return
		}
	})
	c.OnError(func(r *colly.Response, err error) {
		u := r.Request.URL.String()
		if r.StatusCode == http.StatusTooManyRequests || r.StatusCode >= 500 {
			attempt, _ := r.Ctx.GetAny("attempt " + u).(int)
			if attempt < s.Retries {
				r.Ctx.Put("attempt "+u, attempt+1)
				wait := time.Second
				if n, err := strconv.Atoi(r.Headers.Get("Retry-After")); err == nil {
					wait = time.Duration(n) * time.Second
				}
				time.Sleep(wait)
				if err := r.Request.Retry(); err == nil {
					return
				}
			}
		}
		mu.Lock()
		errs = append(errs, fmt.Errorf("fetching %s: %w", u, err))
		mu.Unlock()
	})
	for _, st := range s.Starts {
		if err := c.Visit(s.Base + st); err != nil {
			return nil, fmt.Errorf("starting at %s: %w", st, err)
		}
	}
	c.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return ads, errors.Join(errs...)
}

func text(doc *goquery.Selection, css string) string {
	if css == "" {
		return ""
	}
	return strings.TrimSpace(doc.Find(css).First().Text())
}

// download fetches every image of every ad (an image shared by several
// ads is fetched for each) with parallel workers. It returns each URL's
// SHA-256, the images by SHA-256, and how many could not be fetched.
func download(ctx context.Context, ads []Ad, parallel int) (map[string]string, map[string][]byte, int, error) {
	var urls []string
	for _, a := range ads {
		urls = append(urls, a.Images...)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: parallel}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	var mu sync.Mutex
	shaOf, bySHA := map[string]string{}, map[string][]byte{}
	failed := 0
	work := make(chan string)
	var wg sync.WaitGroup
	for range max(parallel, 1) {
		wg.Go(func() {
			for u := range work {
				data, err := get(ctx, client, u)
				var sum string
				if err == nil {
					h := sha256.Sum256(data)
					sum = hex.EncodeToString(h[:])
				}
				mu.Lock()
				if err != nil {
					failed++
				} else {
					shaOf[u], bySHA[sum] = sum, data
				}
				mu.Unlock()
			}
		})
	}
	for _, u := range urls {
		work <- u
	}
	close(work)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, nil, 0, err
	}
	return shaOf, bySHA, failed, nil
}

// hashAll decodes and hashes each distinct image, on every core, and
// returns the pHashes (hex) by SHA-256.
func hashAll(images map[string][]byte) (map[string]string, error) {
	type job struct {
		sum  string
		data []byte
	}
	var mu sync.Mutex
	out := map[string]string{}
	var errs []error
	work := make(chan job)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for j := range work {
				h, err := phash(j.data)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					out[j.sum] = h
				}
				mu.Unlock()
			}
		})
	}
	for sum, data := range images {
		work <- job{sum, data}
	}
	close(work)
	wg.Wait()
	return out, errors.Join(errs...)
}

func phash(data []byte) (string, error) {
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return "", fmt.Errorf("decoding an image: %w", err)
	}
	h, err := goimagehash.PerceptionHash(img)
	if err != nil {
		return "", fmt.Errorf("goimagehash: %w", err)
	}
	return fmt.Sprintf("%016x", h.GetHash()), nil
}

// index indexes the ads into a new bleve index at dir, in batches of
// 1,000, with a mapping of their text fields, phone and photo hashes.
func index(ads []Ad, dir string) error {
	doc := bleve.NewDocumentStaticMapping()
	for _, f := range []string{"title", "body", "city", "poster"} {
		doc.AddFieldMappingsAt(f, bleve.NewTextFieldMapping())
	}
	for _, f := range []string{"phone", "phash"} {
		kw := bleve.NewKeywordFieldMapping()
		doc.AddFieldMappingsAt(f, kw)
	}
	m := bleve.NewIndexMapping()
	m.DefaultMapping = doc
	idx, err := bleve.New(dir, m)
	if err != nil {
		return fmt.Errorf("creating the bleve index: %w", err)
	}
	b := idx.NewBatch()
	for i, a := range ads {
		err := b.Index(a.URL, map[string]any{"title": a.Title, "body": a.Body, "city": a.City, "poster": a.Poster,
			"phone": a.Phone, "phash": a.PHashes})
		if err != nil {
			idx.Close()
			return fmt.Errorf("indexing %s: %w", a.URL, err)
		}
		if b.Size() == 1000 || i == len(ads)-1 {
			if err := idx.Batch(b); err != nil {
				idx.Close()
				return fmt.Errorf("indexing a batch: %w", err)
			}
			b.Reset()
		}
	}
	if err := idx.Close(); err != nil {
		return fmt.Errorf("closing the bleve index: %w", err)
	}
	return nil
}

func get(ctx context.Context, c *http.Client, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", u, resp.Status)
	}
	return io.ReadAll(resp.Body)
}
