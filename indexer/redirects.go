package indexer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
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
// already redirects or is a current profile again, and reports whether it
// did.
func (l *Linker) AddRedirect(from, to string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.redirectMap()[from]; ok {
		return false
	}
	if _, current := l.root(from); current {
		return false
	}
	l.redirects[from] = to
	return true
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

// Redirects (merged-away profile ids) are kept beside the index, so that
// an id an investigator saw still resolves after a restart or a relink:
// the file redirectLogFile, one JSON object of old id to new id a line,
// each line the redirects made since the last, appended and synced before
// the batch that made them is written. A line cut short by a crash is
// left out. When ids meet twice, the first line wins (Linker.AddRedirect).
//
// They were internal records of the home index (adwatch/redirects/<n>,
// with their count under adwatch/redirects/n). bleve writes every
// internal record again each time it persists the index: at a million
// ads, 19 MB of redirects at every batch. A writable open moves such
// records to the file (migrateRedirects); a read-only open reads both.
const (
	redirectLogFile = "adwatch-redirects.log"
	redirectsPrefix = "adwatch/redirects/"
)

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

// legacyRedirects calls fn with each record of redirects kept as internal
// records of the home index, in the order they were written.
func (x *Index) legacyRedirects(fn func(map[string]string)) (n int, err error) {
	n, err = x.redirectCount()
	if err != nil {
		return 0, err
	}
	for i := range n {
		data, err := x.bleve.GetInternal([]byte(fmt.Sprintf("%s%d", redirectsPrefix, i)))
		if err != nil {
			return 0, fmt.Errorf("reading redirects: %w", err)
		}
		saved := map[string]string{}
		if err := json.Unmarshal(data, &saved); err != nil {
			return 0, fmt.Errorf("decoding redirects %d: %w", i, err)
		}
		fn(saved)
	}
	return n, nil
}

// appendRedirects appends records to the redirect log, one line each, and
// syncs it (and, when it creates the file, its directory). A write or sync
// that fails is cut off again, so that a line written later does not
// follow part of one.
func (x *Index) appendRedirects(records ...map[string]string) error {
	var buf []byte
	for _, r := range records {
		if len(r) == 0 {
			continue
		}
		line, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("encoding redirects: %w", err)
		}
		buf = append(append(buf, line...), '\n')
	}
	if len(buf) == 0 {
		return nil
	}
	f, err := os.OpenFile(x.redirectLogPath(), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("writing redirects: %w", err)
	}
	defer f.Close()
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("writing redirects: %w", err)
	}
	_, err = f.Write(buf)
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		_ = f.Truncate(size)
		return fmt.Errorf("writing redirects: %w", err)
	}
	if size == 0 {
		syncDir(x.path)
	}
	return nil
}

// repairRedirectLog cuts off a last line that a crash left partial, so
// that the next line appended starts a line of its own. It reads the
// file's last byte, and the rest only when that is not a line's end.
func (x *Index) repairRedirectLog() error {
	f, err := os.OpenFile(x.redirectLogPath(), os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading redirects: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("reading redirects: %w", err)
	}
	if st.Size() == 0 {
		return nil
	}
	last := make([]byte, 1)
	if _, err := f.ReadAt(last, st.Size()-1); err != nil {
		return fmt.Errorf("reading redirects: %w", err)
	}
	if last[0] == '\n' {
		return nil
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return fmt.Errorf("reading redirects: %w", err)
	}
	whole := bytes.LastIndexByte(data, '\n') + 1
	x.log.Warn("redirect log ends in a partial line, left by a crash while it was written; cut off", "bytes", len(data)-whole)
	if err := f.Truncate(int64(whole)); err != nil {
		return fmt.Errorf("repairing the redirect log: %w", err)
	}
	return nil
}

// redirectLogPath is where the redirect log of x is.
func (x *Index) redirectLogPath() string { return filepath.Join(x.path, redirectLogFile) }

// readRedirectLog calls fn with each whole line of the redirect log, in
// order; a missing log has none.
func (x *Index) readRedirectLog(fn func(map[string]string)) error {
	data, err := os.ReadFile(x.redirectLogPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading redirects: %w", err)
	}
	for n := 1; len(data) > 0; n++ {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			// The last line, cut short by a crash while it was written
			// (a writable open cuts it off). Its redirects are in the
			// state file saved after it, if any; the linker keeps those.
			return nil
		}
		saved := map[string]string{}
		if err := json.Unmarshal(data[:i], &saved); err != nil {
			return fmt.Errorf("redirect log %s is corrupt at line %d: %w", x.redirectLogPath(), n, err)
		}
		fn(saved)
		data = data[i+1:]
	}
	return nil
}

// migrateRedirects moves redirects kept as internal records of the home
// index to the redirect log, then deletes the records. A crash between the
// two leaves the records to be moved again: lines read twice change
// nothing.
func (x *Index) migrateRedirects() error {
	if err := x.repairRedirectLog(); err != nil {
		return err
	}
	var records []map[string]string
	n, err := x.legacyRedirects(func(r map[string]string) { records = append(records, r) })
	if err != nil || n == 0 {
		return err
	}
	if err := x.appendRedirects(records...); err != nil {
		return err
	}
	b := x.bleve.NewBatch()
	for i := range n {
		b.DeleteInternal([]byte(fmt.Sprintf("%s%d", redirectsPrefix, i)))
	}
	b.DeleteInternal([]byte(redirectsPrefix + "n"))
	if err := x.bleve.Batch(b); err != nil {
		return fmt.Errorf("removing the redirects moved to %s: %w", redirectLogFile, err)
	}
	x.log.Info("redirects moved from the index's internal records to their own file", "records", n)
	return nil
}

// writeRedirects appends the redirects made since the last call, with the
// ones not yet written, to the redirect log. The caller holds x.mu.
func (x *Index) writeRedirects() error {
	for k, v := range x.Linker.TakeRedirects() {
		x.pendingRedirects[k] = v
	}
	if len(x.pendingRedirects) == 0 {
		return nil
	}
	if err := x.appendRedirects(x.pendingRedirects); err != nil {
		return err
	}
	clear(x.pendingRedirects)
	return nil
}

func (x *Index) loadRedirects() error { return x.loadRedirectsInto(x.Linker) }

// KeepRedirects carries the redirects of old, the index x was rebuilt
// from, into x (adwatch reindex), so that a profile id an investigator saw
// before the rebuild still resolves after it. x's own redirects win, and
// an old id that is a current profile of x again is left out. The ones
// kept are added to x's redirect log after x's own, and how many returned.
func (x *Index) KeepRedirects(old *Index) (int, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if err := x.writeRedirects(); err != nil {
		return 0, err
	}
	kept := map[string]string{}
	add := func(saved map[string]string) {
		for from, to := range saved {
			if x.Linker.AddRedirect(from, to) {
				kept[from] = to
			}
		}
	}
	if _, err := old.legacyRedirects(add); err != nil {
		return 0, fmt.Errorf("reading the old index's redirects: %w", err)
	}
	if err := old.readRedirectLog(add); err != nil {
		return 0, fmt.Errorf("reading the old index's redirects: %w", err)
	}
	if err := x.appendRedirects(kept); err != nil {
		// In the linker already: the next write tries them again, so
		// that the log holds whatever a saved state does.
		maps.Copy(x.pendingRedirects, kept)
		return 0, err
	}
	if len(kept) > 0 {
		x.dirty = true // the saved state holds them too
	}
	return len(kept), nil
}

// loadRedirectsInto adds the saved redirects to l: those of internal
// records not yet moved (a read-only open), then the redirect log's.
func (x *Index) loadRedirectsInto(l *Linker) error {
	add := func(saved map[string]string) {
		for k, v := range saved {
			l.AddRedirect(k, v)
		}
	}
	if _, err := x.legacyRedirects(add); err != nil {
		return err
	}
	return x.readRedirectLog(add)
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
