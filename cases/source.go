package cases

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/adwatch/adwatch/indexer"
	"github.com/adwatch/adwatch/internal/record"
	"github.com/adwatch/adwatch/report"
)

// ErrNoImage is returned by Source.Image for an image the store does not
// hold.
var ErrNoImage = errors.New("image not in the store")

// Source is what Export reads a case's evidence from. Each method may be
// called many times for one export; none may keep ctx.
type Source interface {
	// Ad returns one ad with its current profile and network; false when
	// the index does not hold it.
	Ad(ctx context.Context, id string) (report.ExportedAd, bool, error)
	// AdsOfProfile returns every ad of a profile (followed to its current
	// id when it was merged), in posted order; none for an unknown
	// profile.
	AdsOfProfile(ctx context.Context, id string) ([]report.ExportedAd, error)
	// Image opens the bytes of an image by their SHA-256 (lowercase hex);
	// an error wrapping ErrNoImage when the store does not hold it.
	Image(ctx context.Context, sha256 string) (io.ReadCloser, error)
}

// Local reads the evidence from an index this process holds and the image
// object store.
type Local struct {
	Index *indexer.Index
	// Images holds the image bytes by SHA-256; nil makes every image
	// missing.
	Images jetstream.ObjectStore
}

// exported adds an ad's phones, current profile and network, as
// report.ExportAds does.
func (l *Local) exported(a record.Ad) report.ExportedAd {
	p := l.Index.Linker.Profile(a.ID)
	return report.ExportedAd{Ad: a, PhoneNumbers: a.PhoneNumbers(), PhoneDetails: a.Phones, Profile: p, Network: l.Index.Linker.Network(p)}
}

// Ad returns one ad of the index.
func (l *Local) Ad(_ context.Context, id string) (report.ExportedAd, bool, error) {
	a, ok, err := l.Index.Get(id)
	if err != nil || !ok {
		return report.ExportedAd{}, false, err
	}
	return l.exported(a), true, nil
}

// AdsOfProfile returns the ads of a profile in posted order.
func (l *Local) AdsOfProfile(_ context.Context, id string) ([]report.ExportedAd, error) {
	ads, err := l.Index.GetMany(l.Index.Linker.Members(id))
	if err != nil {
		return nil, fmt.Errorf("reading the ads of profile %s: %w", id, err)
	}
	out := make([]report.ExportedAd, 0, len(ads))
	for _, a := range ads {
		out = append(out, l.exported(a))
	}
	return out, nil
}

// Image opens an image of the object store.
func (l *Local) Image(ctx context.Context, sha256 string) (io.ReadCloser, error) {
	if l.Images == nil {
		return nil, fmt.Errorf("image %s: %w (no image store)", sha256, ErrNoImage)
	}
	r, err := l.Images.Get(ctx, sha256)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, fmt.Errorf("image %s: %w", sha256, ErrNoImage)
	}
	if err != nil {
		return nil, fmt.Errorf("getting image %s: %w", sha256, err)
	}
	return r, nil
}

var _ Source = (*Local)(nil)
