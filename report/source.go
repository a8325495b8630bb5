package report

import (
	"context"

	"github.com/adwatch/adwatch/indexer"
	"github.com/adwatch/adwatch/internal/config"
)

// Source is what the read commands (snapshot, compare, profile, export,
// eval) and the digests read: the index on disk (Local), or, while a
// running adwatch holds it, that process's API (web.Client).
type Source interface {
	Snapshot(ctx context.Context, city, date string) (Snapshot, error)
	Profile(ctx context.Context, id string) (indexer.ProfileView, bool, error)
	ExportAds(ctx context.Context, city, since, until string, fn func(ExportedAd) error) error
	Close() error
}

// Local reads an index this process holds.
type Local struct {
	Config *config.Config
	Index  *indexer.Index
}

// Snapshot counts one city over one local day.
func (l *Local) Snapshot(_ context.Context, city, date string) (Snapshot, error) {
	return TakeSnapshot(l.Config, l.Index, city, date)
}

// Profile returns one profile's view.
func (l *Local) Profile(_ context.Context, id string) (indexer.ProfileView, bool, error) {
	return l.Index.Profile(id)
}

// ExportAds calls fn with each ad of city posted in [since, until).
func (l *Local) ExportAds(_ context.Context, city, since, until string, fn func(ExportedAd) error) error {
	f, err := ParseFilter(city, since, until)
	if err != nil {
		return err
	}
	return ExportAds(l.Index, f, fn)
}

// Close closes the index.
func (l *Local) Close() error { return l.Index.Close() }

var _ Source = (*Local)(nil)
