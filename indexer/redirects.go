package indexer

import (
	"encoding/json"
	"fmt"

	"github.com/blevesearch/bleve/v2"
)

// TakeRedirects returns the redirects made since the last call, for the
// index to persist.
func (l *Linker) TakeRedirects() map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.fresh
	l.fresh = map[string]string{}
	return out
}

// AddRedirect records a redirect made before a restart, unless the old id
// is a current profile again.
func (l *Linker) AddRedirect(from, to string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.redirectMap()[from]; !ok {
		if _, current := l.root(from); !current {
			l.redirects[from] = to
		}
	}
}

// Resolve follows redirects: the current id of a profile that was merged
// into another, or id itself.
func (l *Linker) Resolve(id string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	for range 64 {
		next, ok := l.redirect(id)
		if !ok {
			return id
		}
		id = next
	}
	return id
}

// Redirects (merged-away profile ids) are kept in the index's internal
// store, so that an id an investigator saw still resolves after a restart:
// each batch's new redirects under adwatch/redirects/<n>, and the count of
// such records under adwatch/redirects/n. Writing is append-only.
const redirectsPrefix = "adwatch/redirects/"

func (x *Index) redirectCount() (int, error) {
	data, err := x.bleve.GetInternal([]byte(redirectsPrefix + "n"))
	if err != nil {
		return 0, fmt.Errorf("reading redirects: %w", err)
	}
	n := 0
	if data != nil {
		if err := json.Unmarshal(data, &n); err != nil {
			return 0, fmt.Errorf("decoding redirects: %w", err)
		}
	}
	return n, nil
}

// batchRedirects adds the redirects made since the last call, with the
// ones not yet written, to batch b: they are written with the next write
// of the index (the next Put, Published or Close), not in one of their
// own. Written records stop pending with redirectsWritten. The caller holds
// x.mu.
func (x *Index) batchRedirects(b *bleve.Batch) error {
	for k, v := range x.Linker.TakeRedirects() {
		x.pendingRedirects[k] = v
	}
	if len(x.pendingRedirects) == 0 {
		return nil
	}
	n, err := x.redirectCount()
	if err != nil {
		return err
	}
	data, err := json.Marshal(x.pendingRedirects)
	if err != nil {
		return fmt.Errorf("encoding redirects: %w", err)
	}
	count, _ := json.Marshal(n + 1)
	b.SetInternal([]byte(fmt.Sprintf("%s%d", redirectsPrefix, n)), data)
	b.SetInternal([]byte(redirectsPrefix+"n"), count)
	return nil
}

// redirectsWritten records that the batch of batchRedirects is written.
func (x *Index) redirectsWritten() { clear(x.pendingRedirects) }

func (x *Index) loadRedirects() error { return x.loadRedirectsInto(x.Linker) }

// loadRedirectsInto adds the saved redirects to l.
func (x *Index) loadRedirectsInto(l *Linker) error {
	n, err := x.redirectCount()
	if err != nil {
		return err
	}
	for i := range n {
		data, err := x.bleve.GetInternal([]byte(fmt.Sprintf("%s%d", redirectsPrefix, i)))
		if err != nil {
			return fmt.Errorf("reading redirects: %w", err)
		}
		saved := map[string]string{}
		if err := json.Unmarshal(data, &saved); err != nil {
			return fmt.Errorf("decoding redirects %d: %w", i, err)
		}
		for k, v := range saved {
			l.AddRedirect(k, v)
		}
	}
	return nil
}

// redirectMap is l.redirects, decoded from the saved state when first
// asked after a load (decodeCore checked it). The caller holds l.mu.
func (l *Linker) redirectMap() map[string]string {
	if l.redirects == nil {
		d := &decoder{b: l.lazyRedirects}
		c := d.count(2)
		l.redirects = make(map[string]string, c)
		for range c {
			k := d.str()
			l.redirects[k] = d.str()
		}
		l.lazyRedirects = nil
	}
	return l.redirects
}

// redirect is where profile id redirects. Before the redirects are decoded
// (redirectMap) it looks through the saved ones without decoding them: a
// read command resolves an id or two. The caller holds l.mu.
func (l *Linker) redirect(id string) (string, bool) {
	// A process that keeps asking (an export, a network view) builds the
	// map after a few reads of the bytes.
	if l.lazyAsks++; l.redirects != nil || l.lazyAsks > lazyAsksBeforeBuild {
		to, ok := l.redirectMap()[id]
		return to, ok
	}
	d := &decoder{b: l.lazyRedirects}
	for range d.count(2) {
		k, v := d.bytes(), d.bytes()
		if string(k) == id {
			return string(v), true
		}
	}
	return "", false
}
