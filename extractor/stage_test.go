package extractor

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"image"
	"image/jpeg"
	"io"
	"log/slog"
	"testing"
	"time"

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
