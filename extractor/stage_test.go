package extractor

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/adwatch/adwatch/internal/bus"
	"github.com/adwatch/adwatch/internal/bus/bustest"
	"github.com/adwatch/adwatch/internal/record"
)

// TestStoredImageUnreadable: an image the store cannot give now (here its
// connection is closed) fails the page, to be tried again, and is not
// cached as broken; an image missing from the store is published as such;
// a stored one is hashed and cached.
func TestStoredImageUnreadable(t *testing.T) {
	b := bustest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	img := image.NewGray(image.Rect(0, 0, 64, 48))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(buf.Bytes())
	stored := hex.EncodeToString(sum[:])
	if _, err := b.Images.PutBytes(ctx, stored, buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	stage := func(bb *bus.Bus) *Stage {
		return &Stage{Extractor: New(nil, "US", nil, 1<<20), JS: bb.JS, Images: bb.Images, ImageHashes: bb.ImageHashes,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: NewMetrics(nil)}
	}
	ref := record.ImageRef{URL: "http://site.test/a.jpg", SHA256: stored}

	// A second connection, closed: every read of the store fails.
	closed, err := bus.Connect(ctx, b.NC.ConnectedUrl(), 1, bus.Credentials{})
	if err != nil {
		t.Fatal(err)
	}
	closed.NC.Close()
	got, err := stage(closed).hashCached(ctx, ref)
	if err == nil {
		t.Fatalf("an unreadable store gave no error (image %+v): the page would be published without its photo's hash", got)
	}
	if _, err := b.ImageHashes.Get(ctx, stored); err == nil {
		t.Error("a failure to read the store was cached as the image's own")
	}

	s := stage(b)
	missing := record.ImageRef{URL: "http://site.test/b.jpg", SHA256: hex.EncodeToString(make([]byte, 32))}
	got, err = s.hashCached(ctx, missing)
	if err != nil || got.Error == "" {
		t.Errorf("an image missing from the store: %+v, %v; want it published with its error", got, err)
	}

	got, err = s.hashCached(ctx, ref)
	if err != nil || got.Error != "" || got.PHash == "" {
		t.Fatalf("a stored image: %+v, %v; want it hashed", got, err)
	}
	if _, err := b.ImageHashes.Get(ctx, stored); err != nil {
		t.Errorf("the hashed image is not cached: %v", err)
	}
}

// pageMsg is a delivered page: handleBatch reads only its data and subject.
type pageMsg struct {
	jetstream.Msg
	data []byte
}

func (m pageMsg) Data() []byte    { return m.data }
func (m pageMsg) Subject() string { return bus.SubjectPages + ".simclassifieds" }

// testPhoto is a distinct JPEG for each n.
func testPhoto(t *testing.T, n int) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 48, 40))
	for y := range 40 {
		for x := range 48 {
			img.SetGray(x, y, color.Gray{Y: uint8((x*(n+3) + y*(2*n+1) + n*n) % 256)})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// batchPages are pages whose images the batch shares, some failed at the
// crawl, one missing from the store and one that does not decode; the
// photos are stored in each bus given.
func batchPages(t *testing.T, n int, buses ...*bus.Bus) []pageMsg {
	t.Helper()
	ctx := context.Background()
	var shas []string
	for i := range 6 {
		data := testPhoto(t, i)
		if i == 5 {
			data = []byte("\xff\xd8\xff not a whole jpeg")
		}
		sha := record.SHA256Hex(data)
		for _, b := range buses {
			if _, err := b.Images.PutBytes(ctx, sha, data); err != nil {
				t.Fatal(err)
			}
		}
		shas = append(shas, sha)
	}
	missing := record.SHA256Hex([]byte("never stored"))
	var msgs []pageMsg
	for i := range n {
		var refs []record.ImageRef
		var gallery strings.Builder
		for k := range i % 4 {
			u := fmt.Sprintf("http://x/img/%d-%d.jpg", i, k)
			fmt.Fprintf(&gallery, `<img src="%s">`, u)
			ref := record.ImageRef{URL: u, SHA256: shas[(i+k)%len(shas)]}
			switch {
			case i%7 == 3 && k == 1:
				ref = record.ImageRef{URL: u, Error: "status 404"}
			case i%11 == 2 && k == 0:
				ref.SHA256 = missing
			}
			refs = append(refs, ref)
		}
		html := fmt.Sprintf(`<html><body><article class="ad" data-id="%d"><h1 class="title">Ad %d, new in town</h1>
<div class="meta"><span class="city">Oakland</span><span class="poster">P%d</span></div>
<div class="body"><p>Call (415) 552-%04d</p></div><div class="gallery">%s</div></article></body></html>`, i, i, i, 6000+i, gallery.String())
		p := record.Page{Site: "simclassifieds", URL: fmt.Sprintf("http://x/ad/%d.html", i), FetchedAt: time.Date(2026, 11, 27, 12, 0, i, 0, time.UTC),
			SHA256: record.SHA256Hex([]byte(html)), HTML: []byte(html), Images: refs}
		data, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, pageMsg{data: data})
	}
	return msgs
}

func testStage(t *testing.T, b *bus.Bus) *Stage {
	return &Stage{Extractor: testExtractor(t), JS: b.JS, Images: b.Images, ImageHashes: b.ImageHashes,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: NewMetrics(nil), ImageWorkers: 4}
}

// storedAds returns the ads stream's messages in order: each one's
// message id and data.
func storedAds(t *testing.T, b *bus.Bus) (ids []string, data [][]byte) {
	t.Helper()
	ctx := context.Background()
	st, err := b.JS.Stream(ctx, bus.StreamAds)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.Header.Get(jetstream.MsgIDHeader))
		data = append(data, m.Data)
	}
	return ids, data
}

// TestBatchAsOnePageAfterAnother: a batch whose images are fingerprinted
// by several workers publishes, in the pages' order, the very ads (bytes
// and message ids) that extracting the pages one after another publishes,
// and every page is acknowledged.
func TestBatchAsOnePageAfterAnother(t *testing.T) {
	ctx := context.Background()
	ours, serial := bustest.New(t), bustest.New(t)
	msgs := batchPages(t, 40, ours, serial)

	ref := testStage(t, serial)
	var wantIDs []string
	var want [][]byte
	for _, m := range msgs {
		var p record.Page
		if err := json.Unmarshal(m.data, &p); err != nil {
			t.Fatal(err)
		}
		a, err := ref.Extractor.Extract(&p, func(r record.ImageRef) record.Image {
			img, err := ref.hashCached(ctx, r)
			if err != nil {
				t.Fatal(err)
			}
			return img
		})
		if err != nil {
			t.Fatal(err)
		}
		data, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		wantIDs, want = append(wantIDs, a.ID+"/"+a.Version()), append(want, data)
	}

	s := testStage(t, ours)
	batch := make([]jetstream.Msg, len(msgs))
	for i, m := range msgs {
		batch[i] = m
	}
	for i, err := range s.handleBatch(ctx, batch) {
		if err != nil {
			t.Errorf("page %d: %v", i, err)
		}
	}
	ids, got := storedAds(t, ours)
	if len(got) != len(want) {
		t.Fatalf("%d ads stored, want %d", len(got), len(want))
	}
	for i := range want {
		if ids[i] != wantIDs[i] || !bytes.Equal(got[i], want[i]) {
			t.Errorf("ad %d: id %s, want %s; data\n%s\nwant\n%s", i, ids[i], wantIDs[i], got[i], want[i])
		}
	}
	// Each distinct image is fingerprinted once, as one page after
	// another does: the batch's repeats come from the cache.
	for _, result := range []string{"hashed", "cached", "error"} {
		g, w := testutil.ToFloat64(s.Metrics.Images.WithLabelValues(result)), testutil.ToFloat64(ref.Metrics.Images.WithLabelValues(result))
		if g != w {
			t.Errorf("images %s: %v, one page after another %v", result, g, w)
		}
	}
	if n := testutil.ToFloat64(s.Metrics.Ads); n != float64(len(msgs)) {
		t.Errorf("ads counted %v, want %d", n, len(msgs))
	}
}

// refusingJS refuses the publication of the ads whose message id refuse
// names.
type refusingJS struct {
	jetstream.JetStream
	refuse func(id string) bool
}

func (r refusingJS) PublishMsgAsync(m *nats.Msg, opts ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
	if r.refuse(m.Header.Get(jetstream.MsgIDHeader)) {
		return nil, errors.New("refused for the test")
	}
	return r.JetStream.PublishMsgAsync(m, opts...)
}

// TestBatchPublishFails: a page whose ad is not published is not
// acknowledged (its error is returned, to have it delivered again) while
// the batch's others are; delivered again, it is published and every ad is
// stored once.
func TestBatchPublishFails(t *testing.T) {
	ctx := context.Background()
	b := bustest.New(t)
	msgs := batchPages(t, 12, b)
	batch := make([]jetstream.Msg, len(msgs))
	for i, m := range msgs {
		batch[i] = m
	}
	s := testStage(t, b)
	s.JS = refusingJS{JetStream: b.JS, refuse: func(id string) bool { return strings.HasPrefix(id, "simclassifieds:5/") }}
	errs := s.handleBatch(ctx, batch)
	for i, err := range errs {
		if (err != nil) != (i == 5) {
			t.Errorf("page %d: error %v, want one only for page 5", i, err)
		}
	}
	if errs[5] == nil || errors.Is(errs[5], bus.ErrPoison) {
		t.Errorf("page 5: %v, want an error that has it delivered again", errs[5])
	}
	if n := testutil.ToFloat64(s.Metrics.Errors.WithLabelValues("publish")); n != 1 {
		t.Errorf("publish errors counted %v, want 1", n)
	}
	ids, _ := storedAds(t, b)
	if len(ids) != len(msgs)-1 {
		t.Fatalf("%d ads stored, want %d", len(ids), len(msgs)-1)
	}
	for _, id := range ids {
		if strings.HasPrefix(id, "simclassifieds:5/") {
			t.Errorf("the refused ad was stored: %s", id)
		}
	}
	// Delivered again (the whole batch, as after a crash).
	s.JS = b.JS
	for i, err := range s.handleBatch(ctx, batch) {
		if err != nil {
			t.Errorf("again, page %d: %v", i, err)
		}
	}
	ids, _ = storedAds(t, b)
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Errorf("ad %s stored twice", id)
		}
		seen[id] = true
	}
	if len(ids) != len(msgs) {
		t.Errorf("%d ads stored, want %d, each once", len(ids), len(msgs))
	}
}
