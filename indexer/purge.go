package indexer

import (
	"fmt"
	"slices"
	"time"

	"github.com/blevesearch/bleve/v2"

	"github.com/adwatch/adwatch/internal/record"
)

// Purged is what Index.Purge removed.
type Purged struct {
	// Ads are the ads deleted from the index.
	Ads []string
	// Images are the SHA-256 of the images no ad left shows.
	Images []string
}

// Purge deletes ads whose latest capture is before a time from the index
// (the retention period's purge; an ad captured again meanwhile stays) and
// links the ads left again, as a restart would, in place: readers see the
// old links until the new ones are whole. A profile that lost its
// earliest ad takes the id of its next one; the old id redirects there,
// so a case or an alert that names it still finds it. Of the images the
// purged ads showed, and of images (earlier captures' images, say), Purge
// returns those no ad left shows.
func (x *Index) Purge(ids, images []string, before time.Time) (Purged, error) {
	if len(ids) == 0 {
		return Purged{}, nil
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	purged, err := x.GetMany(ids)
	if err != nil {
		return Purged{}, err
	}
	ids = ids[:0:0]
	gone := make(map[string]bool, len(purged))
	for _, a := range purged {
		if a.FetchedAt.Before(before) {
			ids = append(ids, a.ID)
			gone[a.ID] = true
		}
	}
	purged = slices.DeleteFunc(purged, func(a record.Ad) bool { return !gone[a.ID] })
	if len(ids) == 0 {
		return Purged{}, nil
	}
	old := x.Linker
	// A surviving ad of each profile the purge cuts into.
	survivor := map[string]string{}
	for _, id := range ids {
		p := old.Profile(id)
		if _, done := survivor[p]; done || p == "" {
			continue
		}
		survivor[p] = ""
		for _, m := range old.Members(p) {
			if !gone[m] {
				survivor[p] = m
				break
			}
		}
	}
	unshown := map[string]bool{}
	for _, sha := range images {
		unshown[sha] = true
	}
	for _, a := range purged {
		for _, img := range a.Images {
			if img.SHA256 != "" {
				unshown[img.SHA256] = true
			}
		}
	}
	db := x.bleve.newDocBatch()
	b := db.home
	for _, id := range ids {
		if err := x.bleve.delete(db, id); err != nil {
			return Purged{}, err
		}
		delete(x.pages, id)
		delete(x.outbox, id)
	}
	// The purge is a batch of the index's sequence with no journal: a
	// linker state saved before it is refused at the next open (a batch it
	// lacks is not journaled), and every ad left is linked again.
	seq, _, err := x.journalValue(nil)
	if err != nil {
		return Purged{}, err
	}
	b.SetInternal(seqKey, seq)
	if len(x.outbox) == 0 {
		b.DeleteInternal(outboxKey)
	} else {
		data, err := x.outboxValue(nil)
		if err != nil {
			return Purged{}, err
		}
		b.SetInternal(outboxKey, data)
	}
	if err := x.bleve.apply(db); err != nil {
		return Purged{}, fmt.Errorf("deleting %d ads from the index: %w", len(ids), err)
	}
	x.seq++
	x.dirty = true

	fresh := NewLinker(old.threshold, old.maxLink)
	err = x.each(bleve.NewMatchAllQuery(), func(a record.Ad) error {
		fresh.Add(&a)
		for _, img := range a.Images {
			delete(unshown, img.SHA256)
		}
		return nil
	})
	if err != nil {
		return Purged{}, fmt.Errorf("reading the ads left to relink: %w", err)
	}
	fresh.TakeRedirects()
	if err := x.loadRedirectsInto(fresh); err != nil {
		return Purged{}, err
	}
	// Redirects made but not yet written stay pending, and hold now.
	for k, v := range old.TakeRedirects() {
		x.pendingRedirects[k] = v
	}
	for k, v := range x.pendingRedirects {
		fresh.AddRedirect(k, v)
	}
	for p, m := range survivor {
		if m == "" {
			continue
		}
		if now := fresh.Profile(m); now != p {
			fresh.redirectMap()[p], fresh.fresh[p] = now, now
		}
	}
	old.mu.Lock()
	old.linkState = fresh.linkState
	old.mu.Unlock()
	if err := x.writeRedirects(); err != nil {
		return Purged{}, fmt.Errorf("saving the purge's redirects: %w", err)
	}
	if err := x.saveState(); err != nil {
		return Purged{}, err
	}
	out := make([]string, 0, len(unshown))
	for sha := range unshown {
		out = append(out, sha)
	}
	slices.Sort(out)
	slices.Sort(ids)
	return Purged{Ads: ids, Images: out}, nil
}
