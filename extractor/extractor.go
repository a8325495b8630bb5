// Package extractor turns raw ad pages into structured ads: the site's
// fields, phone numbers in E.164 (plain and obfuscated), stated ages, image
// fingerprints and indicator terms. Its Stage consumes the pages stream and
// publishes to the ads stream.
package extractor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/PuerkitoBio/goquery"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/adwatch/adwatch/extractor/age"
	"github.com/adwatch/adwatch/extractor/handle"
	"github.com/adwatch/adwatch/extractor/imagehash"
	"github.com/adwatch/adwatch/extractor/indicator"
	"github.com/adwatch/adwatch/extractor/phone"
	"github.com/adwatch/adwatch/internal/bus"
	"github.com/adwatch/adwatch/internal/record"
	"github.com/adwatch/adwatch/internal/site"
)

// ImageSource returns the bytes of an image by SHA-256.
type ImageSource interface {
	Image(ctx context.Context, sha256 string) ([]byte, error)
}

// Extractor extracts ads from pages. It is safe for concurrent use.
type Extractor struct {
	sites      map[string]*site.Site
	phones     *phone.Extractor
	indicators *indicator.Matcher
	maxPixels  int
}

// New returns an Extractor for the given sites.
func New(sites []site.Site, region string, indicators *indicator.Matcher, maxPixels int) *Extractor {
	e := &Extractor{sites: map[string]*site.Site{}, phones: phone.New(region), indicators: indicators, maxPixels: maxPixels}
	for i := range sites {
		e.sites[sites[i].Name] = &sites[i]
	}
	if e.indicators == nil {
		e.indicators = indicator.New()
	}
	return e
}

// ErrUnknownSite is returned for a page of a site with no configuration.
var ErrUnknownSite = errors.New("unknown site")

// Extract makes an ad of p. Image fingerprints come from hashImage, which
// may be nil (images are then listed without hashes). A field that cannot be
// read is recorded in Problems; the ad is kept.
func (e *Extractor) Extract(p *record.Page, hashImage func(record.ImageRef) record.Image) (record.Ad, error) {
	s, ok := e.sites[p.Site]
	if !ok {
		return record.Ad{}, fmt.Errorf("%w %q", ErrUnknownSite, p.Site)
	}
	html := p.HTML
	if !utf8.Valid(html) {
		html = bytes.ToValidUTF8(html, []byte("\uFFFD"))
	}
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(html))
	if err != nil {
		return record.Ad{}, fmt.Errorf("parsing html of %s: %w", record.PageRef(p.URL), err)
	}
	f := &s.Fields
	a := record.Ad{
		Site:       p.Site,
		URL:        p.URL,
		FetchedAt:  p.FetchedAt,
		Title:      clean(f.Title.Value(doc, p.URL)),
		Body:       clean(strings.Join(f.Body.Values(doc, p.URL), "\n")),
		City:       clean(f.City.Value(doc, p.URL)),
		Poster:     clean(f.Poster.Value(doc, p.URL)),
		PageSHA256: p.SHA256,
		Phones:     []record.Phone{},
		Ages:       []int{},
		Images:     []record.Image{},
		Indicators: []record.Indicator{},
	}
	id := f.ID.Value(doc, p.URL)
	if id == "" {
		a.Problems = append(a.Problems, "id not found; using the URL")
		id = record.SHA256Hex([]byte(p.URL))[:16]
	}
	a.ID = p.Site + ":" + id
	if t, err := s.Time(doc, p.URL, p.FetchedAt); err != nil {
		a.Problems = append(a.Problems, err.Error()+"; using the fetch time")
		a.PostedAt = p.FetchedAt
	} else {
		a.PostedAt = t
	}
	if a.City == "" {
		a.Problems = append(a.Problems, "city not found")
	}

	// Phones from the dedicated fields first, then title, body, the page
	// URL and the links in the ad. Numbers without a country code are read
	// in the ad's country (its city's, its site's or the config's region),
	// or in that of a "+CC" number the ad writes.
	seen := map[string]bool{}
	add := func(ms []phone.Match, source string) {
		for _, m := range ms {
			if !seen[m.E164] {
				seen[m.E164] = true
				a.Phones = append(a.Phones, record.Phone{E164: m.E164, Obfuscated: m.Obfuscated, Source: source})
			}
		}
	}
	texts := append(f.Phones.Values(doc, p.URL), a.Title, a.Body, a.Poster)
	country := s.CountryOf(a.City, e.phones.Region())
	also := e.phones.Regions(strings.Join(texts, "\n"))
	for _, t := range texts {
		add(e.phones.FindIn(t, country, also...), record.PhoneFromText)
	}
	// The URL's and links' digits are the site's: what the ad writes says
	// nothing of them.
	add(e.phones.FindURL(p.URL, country), record.PhoneFromURL)
	for _, css := range []string{f.Body.CSS, f.Phones.CSS} {
		if css == "" {
			continue
		}
		doc.Find(css).Find("a[href]").Each(func(_ int, l *goquery.Selection) {
			href, _ := l.Attr("href")
			add(e.phones.FindURL(href, country), record.PhoneFromLink)
		})
	}
	ageSeen := map[int]bool{}
	for _, v := range f.Age.Values(doc, p.URL) {
		addAges(&a, ageSeen, age.Find("age: "+v))
	}
	addAges(&a, ageSeen, age.Find(a.Title))
	addAges(&a, ageSeen, age.Find(a.Body))

	a.Handles = handle.Find(a.Title + "\n" + a.Body + "\n" + a.Poster)
	if a.Handles == nil {
		a.Handles = []string{}
	}
	a.Indicators, a.Scores = e.indicators.Match(a.Title + "\n" + a.Body)
	for _, ph := range a.Phones {
		// An obscured phone number was predictive in the NIJ/JRSA study.
		if ph.Obfuscated {
			a.Indicators = indicator.Insert(a.Indicators, record.Indicator{Category: "obfuscation", Term: "obfuscated phone number", Weight: 2, Offset: -1})
			a.Scores["obfuscation"] = 2
			break
		}
	}
	if a.Indicators == nil {
		a.Indicators = []record.Indicator{}
	}
	for _, ref := range p.Images {
		img := record.Image{URL: ref.URL, SHA256: ref.SHA256, Error: ref.Error}
		if hashImage != nil && ref.Error == "" && ref.SHA256 != "" {
			img = hashImage(ref)
		}
		a.Images = append(a.Images, img)
	}
	return a, nil
}

func addAges(a *record.Ad, seen map[int]bool, ages []int) {
	for _, n := range ages {
		if !seen[n] {
			seen[n] = true
			a.Ages = append(a.Ages, n)
		}
	}
}

func clean(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\r' || r == '\t' || r == ' ' }), " ")
}

// HashImage fingerprints the image ref from src.
func (e *Extractor) HashImage(ctx context.Context, src ImageSource, ref record.ImageRef) record.Image {
	img, _ := e.hashImage(ctx, src, ref)
	return img
}

// hashImage is HashImage, and the error of reading the image from the
// store when that is why it failed (a failure that may pass) rather than
// the image's own (it does not decode).
func (e *Extractor) hashImage(ctx context.Context, src ImageSource, ref record.ImageRef) (record.Image, error) {
	img := record.Image{URL: ref.URL, SHA256: ref.SHA256}
	data, err := src.Image(ctx, ref.SHA256)
	if err != nil {
		img.Error = err.Error()
		return img, err
	}
	r, err := imagehash.Hash(data, e.maxPixels)
	if err != nil {
		img.Error = err.Error()
		return img, nil
	}
	img.PHash = imagehash.Hex(r.PHash)
	for _, c := range r.Crops {
		img.PHashCrops = append(img.PHashCrops, imagehash.Hex(c))
	}
	img.Width, img.Height = r.Width, r.Height
	return img, nil
}

// Metrics are the extractor's Prometheus metrics.
type Metrics struct {
	Ads      prometheus.Counter
	Errors   *prometheus.CounterVec
	Phones   *prometheus.CounterVec
	Images   *prometheus.CounterVec
	Duration prometheus.Histogram
	Lag      prometheus.Gauge
	// Dead counts the pages given up on (adwatch_dead_letters_total).
	Dead prometheus.Counter
}

// NewMetrics registers the extractor's metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Ads:    prometheus.NewCounter(prometheus.CounterOpts{Name: "adwatch_extractor_ads_extracted_total", Help: "Ads extracted and published."}),
		Errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "adwatch_extractor_errors_total", Help: "Extraction errors by kind."}, []string{"kind"}),
		Phones: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "adwatch_extractor_phones_found_total", Help: "Phone numbers found, by whether they were obfuscated."}, []string{"obfuscated"}),
		Images: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "adwatch_extractor_images_total", Help: "Images fingerprinted, by result (hashed, cached, error)."}, []string{"result"}),
		Duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "adwatch_extractor_page_seconds", Help: "Time to extract one page.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
		Lag:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "adwatch_extractor_consumer_lag", Help: "Pages waiting for the extractor."}),
		Dead: bus.NewDeadLetterCounter(reg, "extractor"),
	}
	if reg != nil {
		reg.MustRegister(m.Ads, m.Errors, m.Phones, m.Images, m.Duration, m.Lag)
	}
	return m
}

// Stage is the extractor stage: pages stream in, ads stream out.
type Stage struct {
	Extractor *Extractor
	// JS reads the pages and publishes the ads.
	JS jetstream.JetStream
	// Images holds the image bytes the crawler stored.
	Images jetstream.ObjectStore
	// ImageHashes caches each image's hashes by SHA-256.
	ImageHashes jetstream.KeyValue
	Log         *slog.Logger
	Metrics     *Metrics
	// Durable is the consumer name, "extractor" by default.
	Durable string
	// ImageWorkers is how many images the stage fingerprints at once,
	// whatever the batches they come from; four per core when zero.
	ImageWorkers int

	// slots bound the images being fingerprinted to ImageWorkers, across
	// the batches handled at once (made on first use).
	slots     chan struct{}
	slotsOnce sync.Once

	// recent holds the hashes of the images this stage read from the
	// image-hash bucket or wrote there lately, by SHA-256: a photo
	// reposted again and again costs no round trip.
	recent recentHashes

	// imageStream is the image store's stream, for ReadObject; nil until
	// looked up, at most once every streamRetry (lookedUp is the last time).
	mu          sync.Mutex
	imageStream jetstream.Stream
	lookedUp    time.Time
}

// streamRetry is how long the extract stage reads images through the
// store alone after its stream could not be looked up.
const streamRetry = 10 * time.Second

// Image reads image bytes from the object store: with two direct gets
// when the image is one chunk (bus.ReadObject), else through the store.
func (s *Stage) Image(ctx context.Context, sha string) ([]byte, error) {
	if st := s.stream(ctx); st != nil {
		if data, err := bus.ReadObject(ctx, st, s.Images, sha); err == nil {
			return data, nil
		}
	}
	r, err := s.Images.Get(ctx, sha)
	if err != nil {
		return nil, fmt.Errorf("getting image %s: %w", sha, err)
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("reading image %s: %w", sha, err)
	}
	return data, nil
}

// stream returns the image store's stream, looked up the first time it
// is asked for; nil while it cannot be (a cluster that lost a node, say),
// when it is looked up again after streamRetry.
func (s *Stage) stream(ctx context.Context) jetstream.Stream {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.imageStream == nil && s.JS != nil && s.Images != nil && time.Since(s.lookedUp) >= streamRetry {
		s.lookedUp = time.Now()
		if st, err := s.Images.Status(ctx); err == nil {
			s.imageStream, _ = bus.ObjectStream(ctx, s.JS, st.Bucket())
		}
	}
	return s.imageStream
}

// hashCached fingerprints ref once per distinct image: the result is kept in
// the image-hash bucket by SHA-256, so a repost costs no decode. The error
// is not the image's own but the store's: the image is there (or was) but
// could not be read now (a cluster that lost a node, a timeout), and the
// page is to be tried again rather than published without the photo's
// hash, which would keep its ad from ever linking by that photo.
func (s *Stage) hashCached(ctx context.Context, ref record.ImageRef) (record.Image, error) {
	if img, ok := s.recent.get(ref.SHA256); ok {
		img.URL = ref.URL
		s.Metrics.Images.WithLabelValues("cached").Inc()
		return img, nil
	}
	if e, err := s.ImageHashes.Get(ctx, ref.SHA256); err == nil {
		var img record.Image
		if json.Unmarshal(e.Value(), &img) == nil {
			s.recent.put(ref.SHA256, img)
			img.URL = ref.URL
			s.Metrics.Images.WithLabelValues("cached").Inc()
			return img, nil
		}
	}
	img, readErr := s.Extractor.hashImage(ctx, s, ref)
	if img.Error != "" {
		s.Metrics.Images.WithLabelValues("error").Inc()
		// An image missing from the store is published as such (the
		// crawler stores it again at its next capture); one the store
		// could not give now fails the page, which comes again.
		if readErr != nil && ctx.Err() == nil && !errors.Is(readErr, jetstream.ErrObjectNotFound) {
			return img, readErr
		}
		// Only the image's own failure (it does not decode) is kept:
		// one that may pass is tried again with the next capture.
		if readErr != nil || errors.Is(ctx.Err(), context.Canceled) {
			return img, nil
		}
	} else {
		s.Metrics.Images.WithLabelValues("hashed").Inc()
	}
	if b, err := json.Marshal(img); err == nil {
		if _, err := s.ImageHashes.Put(ctx, ref.SHA256, b); err == nil {
			// What the bucket now holds, URL and all, as a Get
			// would give it.
			var kept record.Image
			if json.Unmarshal(b, &kept) == nil {
				s.recent.put(ref.SHA256, kept)
			}
		}
	}
	return img, nil
}

// recentImages bounds recentHashes: between half of it and all of it is
// kept, the most recently used first (a few hundred bytes an image).
const recentImages = 65536

// recentHashes is a bounded cache of image hashes by SHA-256, in two
// generations: a look-up finds the current one or the one before (and
// moves its find to the current one); when the current one is full it
// becomes the one before, and the oldest generation is dropped. The
// bucket's entries never change for a SHA-256 (the same bytes, the same
// hashes), so a copy kept here is the one the bucket would give.
type recentHashes struct {
	mu        sync.Mutex
	cur, prev map[string]record.Image
}

func (r *recentHashes) get(sha string) (record.Image, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if img, ok := r.cur[sha]; ok {
		return cloneImage(img), true
	}
	img, ok := r.prev[sha]
	if ok {
		r.putLocked(sha, img)
	}
	return cloneImage(img), ok
}

func (r *recentHashes) put(sha string, img record.Image) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.putLocked(sha, img)
}

func (r *recentHashes) putLocked(sha string, img record.Image) {
	if r.cur == nil || len(r.cur) >= recentImages/2 {
		r.prev, r.cur = r.cur, make(map[string]record.Image, recentImages/2)
	}
	r.cur[sha] = img
}

// cloneImage copies img with its own crop hashes, so that no two ads
// share them.
func cloneImage(img record.Image) record.Image {
	img.PHashCrops = slices.Clone(img.PHashCrops)
	return img
}

// Run consumes pages until ctx is done.
func (s *Stage) Run(ctx context.Context) error {
	durable := s.Durable
	if durable == "" {
		durable = "extractor"
	}
	// A batch waits at most pageWait to fill: the pages of a crawl come
	// a few at a time, and the last of them are not held back.
	// Two batches at once: one's pages extracted and its ads published
	// while the next one's images are hashed, so that the cores hashing
	// photos do not wait for the publication.
	c := bus.Consumer{Stream: bus.StreamPages, Durable: durable, Batch: 32, MaxWait: pageWait, Stage: "extractor", Dead: s.Metrics.Dead, Log: s.Log, Workers: 2}
	lagCtx, stopLag := context.WithCancel(ctx)
	var lag sync.WaitGroup
	lag.Go(func() { bus.TrackLag(lagCtx, s.JS, bus.StreamPages, durable, s.Metrics.Lag.Set) })
	defer func() { stopLag(); lag.Wait() }()
	return c.Run(ctx, s.JS, s.handleBatch)
}

// pageWait is how long the extract stage waits for a batch of pages to
// fill before it takes what came.
const pageWait = 100 * time.Millisecond

// publishWait is how long a batch's ads wait for the stream's
// acknowledgements; a page whose ad is not acknowledged by then is
// delivered again (and its ad stored once, by its message id).
const publishWait = time.Minute

// handleBatch extracts a batch of pages: the images of all of them are
// fingerprinted first, ImageWorkers at a time, then, in the batch's turn
// (bus.InOrder), each page is extracted in the batch's order and its ad
// published; the acknowledgements are awaited together. A page is
// acknowledged only once its ad is stored.
func (s *Stage) handleBatch(ctx context.Context, msgs []jetstream.Msg) []error {
	errs := make([]error, len(msgs))
	pages := make([]*record.Page, len(msgs))
	for i, m := range msgs {
		var p record.Page
		if err := json.Unmarshal(m.Data(), &p); err != nil {
			s.Metrics.Errors.WithLabelValues("decode").Inc()
			s.Log.Error("page does not decode", "subject", m.Subject(), "err", err)
			errs[i] = fmt.Errorf("%w: decoding page: %w", bus.ErrPoison, err)
			continue
		}
		pages[i] = &p
	}
	images, took, storeErrs := s.hashBatch(ctx, pages)
	// The batch's ads go out in the stream's order of its pages: after the
	// batch fetched before this one has published its own, while the next
	// one's images are being hashed.
	bus.InOrder(ctx, func() { s.publishBatch(ctx, pages, images, took, storeErrs, errs) })
	return errs
}

// publishBatch extracts each page of a batch in order, with its images'
// fingerprints, and publishes the ads, setting errs[i] for a page that
// failed.
func (s *Stage) publishBatch(ctx context.Context, pages []*record.Page, images [][]record.Image, took []time.Duration, storeErrs []error, errs []error) {
	var out []*nats.Msg
	var outPage []int
	var ads []record.Ad
	for i, p := range pages {
		if p == nil {
			continue
		}
		if err := storeErrs[i]; err != nil {
			// A stored image the store cannot give now: the page comes
			// again rather than its ad going out without the photo's
			// hash, which would keep it from ever linking by that photo.
			s.Metrics.Errors.WithLabelValues("image_store").Inc()
			s.Log.Warn("a stored image could not be read; the page will be tried again", "site", p.Site, "err", err)
			errs[i] = fmt.Errorf("reading the page's images: %w", err)
			continue
		}
		start := time.Now()
		next := 0
		a, err := s.Extractor.Extract(p, func(record.ImageRef) record.Image {
			next++
			return images[i][next-1]
		})
		if err != nil {
			s.Metrics.Errors.WithLabelValues("extract").Inc()
			s.Log.Error("page not extracted", "site", p.Site, "err", err)
			errs[i] = fmt.Errorf("%w: %w", bus.ErrPoison, err)
			continue
		}
		for _, ph := range a.Phones {
			s.Metrics.Phones.WithLabelValues(fmt.Sprint(ph.Obfuscated)).Inc()
		}
		data, err := json.Marshal(a)
		if err != nil {
			errs[i] = fmt.Errorf("encoding ad: %w", err)
			continue
		}
		msg := &nats.Msg{Subject: bus.SubjectAds + "." + a.Site, Data: data, Header: nats.Header{}}
		msg.Header.Set(jetstream.MsgIDHeader, a.ID+"/"+a.Version())
		out, outPage, ads = append(out, msg), append(outPage, i), append(ads, a)
		// The page's own time: extracting it and fingerprinting its
		// images (done beside the batch's others), not the wait for
		// the batch's acknowledgements.
		took[i] += time.Since(start)
	}
	_, perrs := bus.PublishAll(ctx, s.JS, out, publishWait)
	for k, err := range perrs {
		i, a := outPage[k], &ads[k]
		if err != nil {
			s.Metrics.Errors.WithLabelValues("publish").Inc()
			errs[i] = fmt.Errorf("publishing ad %s: %w", a.ID, err)
			continue
		}
		s.Metrics.Ads.Inc()
		s.Metrics.Duration.Observe(took[i].Seconds())
		s.Log.Debug("ad extracted", "id", a.ID, "phones", len(a.Phones), "images", len(a.Images))
	}
}

// imageSlots returns the stage's image slots: ImageWorkers of them, or four
// per core.
func (s *Stage) imageSlots() chan struct{} {
	s.slotsOnce.Do(func() {
		n := s.ImageWorkers
		if n <= 0 {
			n = 4 * runtime.GOMAXPROCS(0)
		}
		s.slots = make(chan struct{}, n)
	})
	return s.slots
}

// hashBatch fingerprints the images of pages (nil ones skipped), those
// that Extract asks for, in their order: images[i] are page i's. The
// first of each distinct image in the batch is fingerprinted by
// ImageWorkers workers (their slots shared with the other batch being
// handled); the others after, from the cache it then holds,
// as they would be one page after another. took[i] is the time spent on
// page i's images; storeErrs[i] the first error of the store for one of
// them (hashCached).
func (s *Stage) hashBatch(ctx context.Context, pages []*record.Page) (images [][]record.Image, took []time.Duration, storeErrs []error) {
	type job struct{ page, image int }
	var first, again []job
	images = make([][]record.Image, len(pages))
	took = make([]time.Duration, len(pages))
	storeErrs = make([]error, len(pages))
	refs := make([][]record.ImageRef, len(pages))
	seen := map[string]bool{}
	for i, p := range pages {
		if p == nil {
			continue
		}
		for _, ref := range p.Images {
			// The images Extract fingerprints.
			if ref.Error != "" || ref.SHA256 == "" {
				continue
			}
			j := job{i, len(refs[i])}
			refs[i] = append(refs[i], ref)
			if seen[ref.SHA256] {
				again = append(again, j)
			} else {
				seen[ref.SHA256] = true
				first = append(first, j)
			}
		}
		images[i] = make([]record.Image, len(refs[i]))
	}
	var mu sync.Mutex
	slots := s.imageSlots()
	run := func(jobs []job) {
		todo := make(chan job)
		var wg sync.WaitGroup
		for range min(cap(slots), len(jobs)) {
			wg.Go(func() {
				for j := range todo {
					slots <- struct{}{}
					start := time.Now()
					img, err := s.hashCached(ctx, refs[j.page][j.image])
					<-slots
					images[j.page][j.image] = img
					mu.Lock()
					took[j.page] += time.Since(start)
					if err != nil && storeErrs[j.page] == nil {
						storeErrs[j.page] = err
					}
					mu.Unlock()
				}
			})
		}
		for _, j := range jobs {
			todo <- j
		}
		close(todo)
		wg.Wait()
	}
	run(first)
	run(again)
	return images, took, storeErrs
}
