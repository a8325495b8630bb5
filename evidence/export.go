package evidence

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/adwatch/adwatch/internal/bus"
	"github.com/adwatch/adwatch/internal/record"
)

// Store is where the captures are: the pages stream (by sequence) and the
// image object store (by SHA-256).
type Store struct {
	JS     jetstream.JetStream
	Images jetstream.ObjectStore
}

// Selection says which captures to export. A page is exported when All is
// set, or when one of the ads extracted from it is selected: one of AdIDs,
// or, when City, Since or Until is set, an ad of that city (any case)
// posted in [Since, Until).
type Selection struct {
	All          bool
	AdIDs        []string
	City         string
	Since, Until time.Time
	// Describe is the selection as the warcinfo record states it
	// ("--city Oakland --since 2020-10-01").
	Describe string
}

func (s *Selection) matches(a *record.Ad) bool {
	if slices.Contains(s.AdIDs, a.ID) {
		return true
	}
	if s.City == "" && s.Since.IsZero() && s.Until.IsZero() {
		return false
	}
	return (s.City == "" || strings.EqualFold(a.City, s.City)) &&
		(s.Since.IsZero() || !a.PostedAt.Before(s.Since)) &&
		(s.Until.IsZero() || a.PostedAt.Before(s.Until))
}

// Info is what the warcinfo record says of the export.
type Info struct {
	// Software is adwatch and its version ("adwatch v1.2.0").
	Software string
	// ExportedBy is who exported (the operating-system user).
	ExportedBy string
	// Host is the machine exported on.
	Host string
	// At is when (stored in UTC).
	At time.Time
	// Filename is the file's name, for WARC-Filename.
	Filename string
}

// Stats count what an export wrote.
type Stats struct {
	Records, Pages, Images int
	// ImagesMissing are images the pages name by SHA-256 that the store
	// does not hold: listed in the page's metadata record, not exported.
	ImagesMissing int
	// Ads are the selected ads whose pages were found.
	Ads int
	// PagesSelected is how many pages the selection names (0 with All),
	// known before the pages are written: the total of a progress bar.
	PagesSelected int
}

// ErrNothingSelected is returned when the selection names no capture.
var ErrNothingSelected = errors.New("no capture matches the selection")

// adInfo is what a metadata record says of an ad extracted from a page.
type adInfo struct{ id, city string }

// Export writes the warcinfo record and then the records of every
// capture sel selects, in stream order, to w. progress, when set, is
// called after each capture with the counts so far.
func Export(ctx context.Context, st Store, sel Selection, info Info, w *Writer, progress func(Stats)) (Stats, error) {
	var stats Stats
	// The ads stream says which ads each page gave, by page SHA-256.
	ads := map[string][]adInfo{}
	selectedAds := map[string]bool{}
	err := eachMsg(ctx, st.JS, bus.StreamAds, func(_ uint64, data []byte) error {
		var a record.Ad
		if json.Unmarshal(data, &a) != nil {
			return nil // not an ad; the extractor's problem, not the export's
		}
		if !sel.All && !sel.matches(&a) {
			return nil
		}
		if !slices.ContainsFunc(ads[a.PageSHA256], func(x adInfo) bool { return x.id == a.ID }) {
			ads[a.PageSHA256] = append(ads[a.PageSHA256], adInfo{a.ID, a.City})
		}
		selectedAds[a.ID] = true
		return nil
	})
	if err != nil {
		return stats, err
	}
	if !sel.All && len(ads) == 0 {
		return stats, ErrNothingSelected
	}
	if !sel.All {
		stats.PagesSelected = len(ads)
	}
	infoID := NewRecordID()
	if err := w.Write(warcinfo(infoID, info, sel)); err != nil {
		return stats, err
	}
	stats.Records++
	found := map[string]bool{}
	err = eachMsg(ctx, st.JS, bus.StreamPages, func(seq uint64, data []byte) error {
		var p record.Page
		if err := json.Unmarshal(data, &p); err != nil {
			return nil
		}
		of, ok := ads[p.SHA256]
		if !ok && !sel.All {
			return nil
		}
		for _, a := range of {
			found[a.id] = true
		}
		if err := exportPage(ctx, st, w, infoID, seq, &p, of, &stats); err != nil {
			return err
		}
		if progress != nil {
			progress(stats)
		}
		return nil
	})
	stats.Ads = len(found)
	if err != nil {
		return stats, err
	}
	if stats.Pages == 0 {
		return stats, ErrNothingSelected
	}
	return stats, nil
}

// warcinfo is the first record: what wrote the file, who, when and what
// it selects.
func warcinfo(id string, info Info, sel Selection) *Record {
	r := &Record{}
	r.Add(FieldType, "warcinfo")
	r.Add(FieldRecordID, id)
	r.Add(FieldDate, Date(info.At))
	if info.Filename != "" {
		r.Add(FieldFilename, info.Filename)
	}
	r.Add(FieldContentType, "application/warc-fields")
	var b strings.Builder
	field := func(name, value string) {
		if value != "" {
			b.WriteString(name + ": " + oneLine(value) + "\r\n")
		}
	}
	field("software", info.Software)
	field("format", "WARC File Format 1.1")
	field("conformsTo", "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/")
	field("description", "adwatch evidence export: captured ad pages and images with the HTTP exchanges that brought them")
	field("exported-by", info.ExportedBy)
	field("hostname", info.Host)
	field("exported-at", info.At.UTC().Format(time.RFC3339))
	sel.Describe = strings.TrimSpace(sel.Describe)
	if sel.Describe == "" && sel.All {
		sel.Describe = "--all"
	}
	field("selection", sel.Describe)
	field("digests", "WARC-Block-Digest and WARC-Payload-Digest: SHA-1, base32; body-sha256 in metadata records: SHA-256, hex")
	r.Block = []byte(b.String())
	r.SetDigests()
	return r
}

// exportPage writes the records of one page and of its stored images.
func exportPage(ctx context.Context, st Store, w *Writer, infoID string, seq uint64, p *record.Page, of []adInfo, stats *Stats) error {
	meta := []Field{{"site", p.Site}}
	for _, a := range of {
		meta = append(meta, Field{"ad-id", a.id})
	}
	for _, a := range of {
		if a.city != "" {
			meta = append(meta, Field{"city", a.city})
			break
		}
	}
	meta = append(meta, Field{"page-sha256", p.SHA256}, Field{"stream", bus.StreamPages}, Field{"stream-seq", fmt.Sprint(seq)})
	for i, img := range p.Images {
		switch {
		case img.SHA256 == "":
			meta = append(meta, Field{"image-not-downloaded", img.URL})
		default:
			meta = append(meta, Field{"image", fmt.Sprintf("%d %s %s", i, img.SHA256, img.URL)})
		}
	}
	for _, r := range pageExchange(p).records(infoID, source(seq, -1), meta) {
		if err := w.Write(r); err != nil {
			return err
		}
		stats.Records++
	}
	stats.Pages++
	for i := range p.Images {
		img := &p.Images[i]
		if img.SHA256 == "" {
			continue
		}
		data, err := st.Images.GetBytes(ctx, img.SHA256)
		if errors.Is(err, jetstream.ErrObjectNotFound) {
			stats.ImagesMissing++
			continue
		}
		if err != nil {
			return fmt.Errorf("reading image %s: %w", img.SHA256, err)
		}
		imeta := []Field{{"site", p.Site}, {"page-url", p.URL}, {"page-sha256", p.SHA256}, {"image-sha256", img.SHA256}}
		for _, a := range of {
			imeta = append(imeta, Field{"ad-id", a.id})
		}
		if record.SHA256Hex(data) != img.SHA256 {
			imeta = append(imeta, Field{"warning", "the stored bytes do not hash to the SHA-256 they are stored under"})
		}
		for _, r := range imageExchange(img, p.FetchedAt, data).records(infoID, source(seq, i), imeta) {
			if err := w.Write(r); err != nil {
				return err
			}
			stats.Records++
		}
		stats.Images++
	}
	return nil
}

// eachMsg calls fn with every message of stream, in order, up to the last
// one when it started.
func eachMsg(ctx context.Context, js jetstream.JetStream, stream string, fn func(seq uint64, data []byte) error) error {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return fmt.Errorf("opening stream %s: %w", stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return fmt.Errorf("reading stream %s: %w", stream, err)
	}
	last := info.State.LastSeq
	if info.State.Msgs == 0 {
		return nil
	}
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return fmt.Errorf("reading stream %s: %w", stream, err)
	}
	seen := info.State.FirstSeq - 1
	for seen < last {
		// Fetch no more than remain, so that a batch ends with its last
		// message and leaves no fetch waiting behind it.
		batch, err := cons.Fetch(int(min(64, last-seen)), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return fmt.Errorf("reading stream %s: %w", stream, err)
		}
		n := 0
		var ferr error
		for m := range batch.Messages() {
			n++
			if ferr != nil {
				continue // drain the batch
			}
			md, err := m.Metadata()
			if err != nil {
				ferr = fmt.Errorf("reading stream %s: %w", stream, err)
				continue
			}
			seen = md.Sequence.Stream
			if seen <= last {
				ferr = fn(seen, m.Data())
			}
		}
		if ferr != nil {
			return ferr
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return fmt.Errorf("reading stream %s: %w", stream, err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if n == 0 {
			return nil // the messages up to last were deleted meanwhile
		}
	}
	return nil
}
