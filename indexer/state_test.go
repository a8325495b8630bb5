package indexer

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/adwatch/adwatch/internal/record"
)

// linkCorpus generates n ads that link every way the linker knows: the
// same photo (near-duplicate hashes and crop variants), the same image
// file, social handles, phones with names or near-duplicate texts, and an
// agency line on many profiles (capped at 25).
func linkCorpus(n int) []record.Ad {
	r := rand.New(rand.NewPCG(3, 4))
	t0 := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	persons := n/3 + 1
	ads := make([]record.Ad, n)
	for i := range ads {
		p := r.IntN(persons)
		a := record.Ad{
			ID: fmt.Sprintf("s%d:%05d", i%3, i), Site: fmt.Sprintf("s%d", i%3), City: fmt.Sprintf("City %d", p%9),
			Title: fmt.Sprint("ad ", i), Body: fmt.Sprintf("sweet friendly person number %d new in town", p%300),
			PostedAt: t0.Add(time.Duration(r.IntN(400*24)) * time.Hour), PageSHA256: fmt.Sprint("page", i),
			URL:    fmt.Sprintf("https://s%d.example/%d", i%3, i),
			Poster: fmt.Sprint("name", p%40),
		}
		switch r.IntN(4) {
		case 0:
			a.Phones = []record.Phone{{E164: fmt.Sprintf("+1510%07d", p)}}
		case 1:
			a.Phones = []record.Phone{{E164: "+18005550100"}} // the agency line
		case 2:
			a.Phones = []record.Phone{{E164: fmt.Sprintf("+1415%07d", p/4)}}
		}
		if r.IntN(6) == 0 {
			a.Handles = []string{fmt.Sprint("instagram:p", p)}
		}
		if r.IntN(5) == 0 {
			a.Handles = append(a.Handles, fmt.Sprint("cashapp:$p", p/3))
		}
		if r.IntN(3) > 0 {
			h := uint64(p) * 0x9e3779b97f4a7c15
			h ^= 1 << r.IntN(64) // a near duplicate
			img := record.Image{PHash: fmt.Sprintf("%016x", h), SHA256: fmt.Sprintf("%064x", h)}
			for k := range 3 {
				img.PHashCrops = append(img.PHashCrops, fmt.Sprintf("%016x", uint64(p*16+k+1)*0x9e3779b97f4a7c15))
			}
			if r.IntN(10) == 0 {
				img.SHA256 = fmt.Sprintf("%064x", p) // the same file
			}
			a.Images = []record.Image{img}
		}
		ads[i] = a
	}
	return ads
}

// linkAnswers is everything the linker answers about the ads: each ad's
// profile, network and profile's members, and per profile its templates
// and the profiles of its identifiers, and the capped contacts.
func linkAnswers(t *testing.T, l *Linker, ads []record.Ad) []string {
	t.Helper()
	var out []string
	seen := map[string]bool{}
	for _, a := range ads {
		p := l.Profile(a.ID)
		out = append(out, fmt.Sprintf("%s profile %s network %s", a.ID, p, l.Network(p)))
		if !seen[p] {
			seen[p] = true
			out = append(out, fmt.Sprintf("%s members %v templates %v", p, l.Members(p), l.Templates(p)))
		}
		for _, c := range append(a.PhoneNumbers(), a.Handles...) {
			out = append(out, fmt.Sprintf("%s uses %s: %v, capped %v", a.ID, c, l.ProfilesUsing(c), l.IsCapped(c)))
		}
		for _, img := range a.Images {
			if h, err := parseHash(img.PHash); err == nil {
				out = append(out, fmt.Sprintf("%s photo: %v", a.ID, l.SimilarPhotos(h, nil)))
			}
		}
	}
	return append(out, fmt.Sprint("capped ", l.Capped()))
}

// logTo returns a logger writing into buf.
func logTo(buf *bytes.Buffer) *slog.Logger { return slog.New(slog.NewTextHandler(buf, nil)) }

// buildIndex puts ads into a new index under dir in batches of size.
func buildIndex(t *testing.T, dir string, ads []record.Ad, size int) *Index {
	t.Helper()
	x, err := Open(dir, 8, 25, false)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(ads); i += size {
		if _, err := x.Put(ads[i:min(i+size, len(ads))]); err != nil {
			t.Fatal(err)
		}
	}
	return x
}

// buildSaved indexes ads in batches of size into a new index in dir and
// closes it, its state saved.
func buildSaved(t *testing.T, dir string, ads []record.Ad, size int) {
	t.Helper()
	if err := buildIndex(t, dir, ads, size).Close(); err != nil {
		t.Fatal(err)
	}
}

// relinked answers as a linker that links every ad anew.
func relinked(t *testing.T, dir string, ads []record.Ad) []string {
	t.Helper()
	x, err := Open(dir, 8, 25, true)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	l := NewLinker(8, 25)
	var all []record.Ad
	if err := x.Ads(Filter{}, func(a record.Ad) error { all = append(all, a); return nil }); err != nil {
		t.Fatal(err)
	}
	for i := range all {
		l.Add(&all[i])
	}
	return linkAnswers(t, l, ads)
}

// TestSavedStateAnswersLikeRelink: an index reopened from its saved linker
// state answers exactly as the linker before the close, and, for
// profiles, networks, templates, identifiers and photos, as a linker that
// links every indexed ad anew; read-only or writable; and it goes on
// linking new ads as the one never closed does.
func TestSavedStateAnswersLikeRelink(t *testing.T) {
	ads := linkCorpus(1500)
	dir := t.TempDir()
	x := buildIndex(t, dir, ads[:1200], 97)
	before := linkAnswers(t, x.Linker, ads[:1200])
	beforeLinks := map[string][]Link{}
	for _, a := range ads[:1200] {
		p := x.Linker.Profile(a.ID)
		beforeLinks[p] = x.Linker.Links(p)
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "index.bleve", stateFile)); err != nil {
		t.Fatalf("no state file after closing: %v", err)
	}
	want := relinked(t, dir, ads[:1200])
	if !slices.Equal(before, want) {
		t.Fatalf("the linker built batch by batch and the one relinked differ:\n%s", firstDiff(before, want))
	}
	for _, readOnly := range []bool{true, false} {
		var log bytes.Buffer
		y, err := OpenLogged(dir, 8, 25, readOnly, logTo(&log))
		if err != nil {
			t.Fatal(err)
		}
		if log.Len() != 0 {
			t.Errorf("read-only %v: opening logged %s", readOnly, log.String())
		}
		if got := linkAnswers(t, y.Linker, ads[:1200]); !slices.Equal(got, want) {
			t.Errorf("read-only %v: loaded state answers otherwise:\n%s", readOnly, firstDiff(got, want))
		}
		for p, links := range beforeLinks {
			if got := y.Linker.Links(p); !slices.Equal(got, links) {
				t.Errorf("read-only %v: links of %s: %v, want %v", readOnly, p, got, links)
			}
		}
		if !readOnly {
			// Linking goes on as in the index never closed.
			if _, err := y.Put(ads[1200:]); err != nil {
				t.Fatal(err)
			}
		}
		if err := y.Close(); err != nil {
			t.Fatal(err)
		}
	}
	ref := NewLinker(8, 25)
	for i := range ads {
		ref.Add(&ads[i])
	}
	y, err := Open(dir, 8, 25, true)
	if err != nil {
		t.Fatal(err)
	}
	defer y.Close()
	if got, want := linkAnswers(t, y.Linker, ads), linkAnswers(t, ref, ads); !slices.Equal(got, want) {
		t.Errorf("after more ads and a reopen:\n%s", firstDiff(got, want))
	}
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return a[i] + "\n" + b[i]
		}
	}
	return fmt.Sprintf("%d lines, %d lines", len(a), len(b))
}

// TestBadStateFallsBack: a state file that is truncated, corrupt, of
// another index, of other linking settings, newer than the index, or
// older with its batches' journal gone, is not used: the ads are linked
// anew, with a warning, and the answers are those of a relink.
func TestBadStateFallsBack(t *testing.T) {
	ads := linkCorpus(600)
	dir := t.TempDir()
	buildSaved(t, dir, ads[:300], 50)
	path := filepath.Join(dir, "index.bleve", stateFile)
	early, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// A copy of the index as it is now: the later state file is newer.
	older := t.TempDir()
	if err := os.CopyFS(filepath.Join(older, "index.bleve"), os.DirFS(filepath.Join(dir, "index.bleve"))); err != nil {
		t.Fatal(err)
	}
	x, err := Open(dir, 8, 25, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x.Put(ads[300:]); err != nil {
		t.Fatal(err)
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	if err := buildIndex(t, other, ads, 600).Close(); err != nil {
		t.Fatal(err)
	}
	otherState, err := os.ReadFile(filepath.Join(other, "index.bleve", stateFile))
	if err != nil {
		t.Fatal(err)
	}
	want := relinked(t, dir, ads)
	flipped := slices.Clone(good)
	flipped[len(flipped)/2] ^= 0x10
	for _, c := range []struct {
		name      string
		dir       string
		state     []byte
		threshold int
		warn      string
	}{
		{"truncated", dir, good[:len(good)/3], 8, "checksum"},
		{"one bit flipped", dir, flipped, 8, "checksum"},
		{"empty", dir, []byte{}, 8, "not a linker state"},
		{"another index's", dir, otherState, 8, "another index"},
		{"other settings", dir, good, 6, "other linking settings"},
		{"older, journal dropped", dir, early, 8, "not journaled"},
		{"newer than the index", older, good, 8, "newer than the index"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(c.dir, "index.bleve", stateFile)
			if err := os.WriteFile(p, c.state, 0o600); err != nil {
				t.Fatal(err)
			}
			var log bytes.Buffer
			y, err := OpenLogged(c.dir, c.threshold, 25, true, logTo(&log))
			if err != nil {
				t.Fatal(err)
			}
			defer y.Close()
			if !strings.Contains(log.String(), "level=WARN") || !strings.Contains(log.String(), c.warn) {
				t.Errorf("log: %s, want a warning of %q", log.String(), c.warn)
			}
			if c.threshold != 8 || c.dir != dir {
				return
			}
			if got := linkAnswers(t, y.Linker, ads); !slices.Equal(got, want) {
				t.Errorf("answers:\n%s", firstDiff(got, want))
			}
		})
	}
	// A writable open replaces the bad file with a good one.
	if err := os.WriteFile(path, flipped, 0o600); err != nil {
		t.Fatal(err)
	}
	y, err := Open(dir, 8, 25, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := y.Close(); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	y, err = OpenLogged(dir, 8, 25, true, logTo(&log))
	if err != nil {
		t.Fatal(err)
	}
	defer y.Close()
	if log.Len() != 0 {
		t.Errorf("after a writable open, opening logged %s", log.String())
	}
	if got := linkAnswers(t, y.Linker, ads); !slices.Equal(got, want) {
		t.Errorf("answers:\n%s", firstDiff(got, want))
	}
}

// TestStateOlderThanIndex: the process dies after writing batches to the
// index and before writing the state file. The next open finds the file
// older than the index and links the batches since, from their journal:
// the answers are those of a relink, edits and gone ads included, and the
// pages are known (an ad put again is not indexed again).
func TestStateOlderThanIndex(t *testing.T) {
	ads := linkCorpus(900)
	dir := t.TempDir()
	buildSaved(t, dir, ads[:400], 100)
	x, err := Open(dir, 8, 25, false)
	if err != nil {
		t.Fatal(err)
	}
	for i := 400; i < len(ads); i += 100 {
		if _, err := x.Put(ads[i : i+100]); err != nil {
			t.Fatal(err)
		}
	}
	// An edit of an ad linked before the crash, and a pass that finds
	// some ads gone.
	edited := ads[10]
	edited.PageSHA256, edited.Phones = "edited", []record.Phone{{E164: "+15105550199"}}
	if _, err := x.Put([]record.Ad{edited}); err != nil {
		t.Fatal(err)
	}
	pass := record.SitePass{Site: "s1", Started: time.Now(), Finished: time.Now()}
	if _, err := x.MarkGone(pass); err != nil {
		t.Fatal(err)
	}
	// The crash: the state file is not written.
	x.dirty = false
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	want := relinked(t, dir, ads)
	for _, readOnly := range []bool{true, false} {
		var log bytes.Buffer
		y, err := OpenLogged(dir, 8, 25, readOnly, logTo(&log))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(log.String(), "caught up") || strings.Contains(log.String(), "WARN") {
			t.Errorf("read-only %v: log %s, want a catch-up", readOnly, log.String())
		}
		if got := linkAnswers(t, y.Linker, ads); !slices.Equal(got, want) {
			t.Errorf("read-only %v: answers:\n%s", readOnly, firstDiff(got, want))
		}
		if !readOnly {
			changed, err := y.Put([]record.Ad{ads[500], edited})
			if err != nil || len(changed) != 0 {
				t.Errorf("putting known ads again: %v, %v", changed, err)
			}
		}
		if err := y.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// The writable open saved the caught-up state.
	var log bytes.Buffer
	y, err := OpenLogged(dir, 8, 25, true, logTo(&log))
	if err != nil {
		t.Fatal(err)
	}
	defer y.Close()
	if log.Len() != 0 {
		t.Errorf("after a writable open, opening logged %s", log.String())
	}
}

// TestLoadedAnswersWithoutLookups: a read-only index opened from its saved
// state answers profile views, who uses an identifier, templates, links
// and old profile ids from the saved bytes, without building its look-up
// tables, and exactly as the index that saved it, asked the same.
func TestLoadedAnswersWithoutLookups(t *testing.T) {
	ads := linkCorpus(1200)
	dir := t.TempDir()
	x := buildIndex(t, dir, ads, 97)
	var idents []string
	for _, a := range ads {
		idents = append(idents, append(a.PhoneNumbers(), a.Handles...)...)
	}
	ask := func(x *Index) []string {
		t.Helper()
		var out []string
		for id, u := range x.Linker.Using(idents) {
			out = append(out, fmt.Sprintf("%s: %v %v", id, u.Contact, u.Social))
		}
		seen := map[string]bool{}
		for _, a := range ads {
			// The id the ad's profile had when it was new, redirected.
			out = append(out, fmt.Sprint(a.ID, " was ", x.Linker.Resolve(profileID(a.ID))))
			p := x.Linker.Profile(a.ID)
			if seen[p] {
				continue
			}
			seen[p] = true
			v, ok, err := x.Profile(p)
			if err != nil || !ok {
				t.Fatalf("profile %s: %v %v", p, ok, err)
			}
			out = append(out, fmt.Sprintf("%+v", v))
			nv, ok, err := x.Network(x.Linker.Network(p), time.Date(2021, 3, 1, 0, 0, 0, 0, time.UTC))
			if err != nil || !ok {
				t.Fatalf("network of %s: %v %v", p, ok, err)
			}
			out = append(out, fmt.Sprintf("%+v", nv))
		}
		slices.Sort(out)
		return out
	}
	want := ask(x)
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	// Answered from the saved bytes throughout, then as a process that
	// keeps asking does: from the bytes first, from the maps built after.
	for _, bytesOnly := range []bool{true, false} {
		y, err := Open(dir, 8, 25, true)
		if err != nil {
			t.Fatal(err)
		}
		l := y.Linker
		if bytesOnly {
			l.lazyAsks = -1 << 40
		}
		got := ask(y)
		built := !l.lookupsMissing || l.readLookups || l.links != nil || l.redirects != nil
		if built == bytesOnly {
			t.Errorf("bytes only %v: look-ups built: missing %v, read %v, links %v, redirects %v", bytesOnly, l.lookupsMissing, l.readLookups, l.links != nil, l.redirects != nil)
		}
		if y.bleve.where != nil {
			t.Error("a profile view read every shard's ids")
		}
		if !slices.Equal(got, want) {
			t.Errorf("bytes only %v: the loaded index answers otherwise:\n%s", bytesOnly, firstDiff(got, want))
		}
		if err := y.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestWritableStateMapping: a writable index maps its state file, keeps the
// mapping while parts of it are not decoded, and lets it go at the first
// save after everything is (the file was renamed over), still answering
// as the index that saved it.
func TestWritableStateMapping(t *testing.T) {
	ads := linkCorpus(600)
	dir := t.TempDir()
	buildSaved(t, dir, ads[:400], 100)
	want := relinked(t, dir, ads[:400])
	x, err := Open(dir, 8, 25, false)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	save := func() {
		t.Helper()
		x.mu.Lock()
		defer x.mu.Unlock()
		if err := x.saveState(); err != nil {
			t.Fatal(err)
		}
	}
	if x.unmapState == nil || !x.Linker.holdsEncoded() {
		t.Fatalf("a writable open: mapped %v, encoded parts held %v; want both", x.unmapState != nil, x.Linker.holdsEncoded())
	}
	save()
	if x.unmapState == nil {
		t.Fatal("saved with encoded parts still to read: the mapping is gone")
	}
	if got := linkAnswers(t, x.Linker, ads[:400]); !slices.Equal(got, want) {
		t.Fatalf("answers after a save:\n%s", firstDiff(got, want))
	}
	// Everything decoded: new ads (the facts), the profiles' links and
	// the redirects.
	if _, err := x.Put(ads[400:]); err != nil {
		t.Fatal(err)
	}
	x.Linker.mu.Lock()
	x.Linker.linkMap()
	x.Linker.redirectMap()
	x.Linker.mu.Unlock()
	save()
	if x.unmapState != nil {
		t.Fatal("nothing left to decode, saved: the old file is still mapped")
	}
	l := NewLinker(8, 25)
	for i := range ads {
		l.Add(&ads[i])
	}
	if got, want := linkAnswers(t, x.Linker, ads), linkAnswers(t, l, ads); !slices.Equal(got, want) {
		t.Fatalf("answers after the mapping went:\n%s", firstDiff(got, want))
	}
}

// TestNoJournalBeforeASavedBatch: a new index journals no batch until a
// state of some batch is saved (bleve writes every internal record again at
// each persist, and a rebuild's journals would grow to every ad's id); a
// crash before that relinks every ad, which is what a catch-up from nothing
// would do, with the same answers and no warning; once a state of a batch
// is saved, batches are journaled again and a crash catches up.
func TestNoJournalBeforeASavedBatch(t *testing.T) {
	ads := linkCorpus(900)
	dir := t.TempDir()
	x, err := Open(dir, 8, 25, false)
	if err != nil {
		t.Fatal(err)
	}
	journals := func(x *Index, from, to uint64) int {
		t.Helper()
		n := 0
		for seq := from; seq <= to; seq++ {
			data, err := x.bleve.GetInternal(journalKey(seq))
			if err != nil {
				t.Fatal(err)
			}
			if data != nil {
				n++
			}
		}
		return n
	}
	for i := 0; i < 400; i += 100 {
		if _, err := x.Put(ads[i : i+100]); err != nil {
			t.Fatal(err)
		}
	}
	if n := journals(x, 1, x.seq); n != 0 || x.seq != 4 {
		t.Fatalf("%d of %d batches journaled before a state of any was saved, want none", n, x.seq)
	}
	// The crash: the state file (of no batch) is not written again.
	x.dirty = false
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	want := relinked(t, dir, ads[:400])
	var log bytes.Buffer
	y, err := OpenLogged(dir, 8, 25, false, logTo(&log))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "holds no batch") || strings.Contains(log.String(), "WARN") {
		t.Errorf("log %s, want every ad linked, without a warning", log.String())
	}
	if got := linkAnswers(t, y.Linker, ads[:400]); !slices.Equal(got, want) {
		t.Errorf("answers after the crash:\n%s", firstDiff(got, want))
	}
	// The open saved the state of batch 4: the next batches are journaled.
	for i := 400; i < 900; i += 100 {
		if _, err := y.Put(ads[i : i+100]); err != nil {
			t.Fatal(err)
		}
	}
	if n := journals(y, 5, y.seq); n != 5 {
		t.Errorf("%d of the 5 batches after a saved state journaled, want 5", n)
	}
	y.dirty = false
	if err := y.Close(); err != nil {
		t.Fatal(err)
	}
	log.Reset()
	z, err := OpenLogged(dir, 8, 25, true, logTo(&log))
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	if !strings.Contains(log.String(), "caught up") {
		t.Errorf("log %s, want a catch-up", log.String())
	}
	if got, want := linkAnswers(t, z.Linker, ads), relinked(t, dir, ads); !slices.Equal(got, want) {
		t.Errorf("answers after the catch-up:\n%s", firstDiff(got, want))
	}
}

// TestEncoderChunks checks that an encoder's chunks hold, in order, the
// bytes a single growing slice would: values straddling a chunk's end,
// strings larger than a chunk, and what writeTo writes.
func TestEncoderChunks(t *testing.T) {
	big := strings.Repeat("x", 3*encoderChunk+17)
	var want []byte
	e := &encoder{}
	for i := range 300_000 {
		v := uint64(i) * 0x9E3779B97F4A7C15
		want = binary.AppendUvarint(want, v)
		e.uint(v)
		want = binary.LittleEndian.AppendUint64(want, v)
		e.word(v)
		want = binary.AppendVarint(want, -int64(i))
		e.int(-int64(i))
		if i%100_000 == 7 {
			want = binary.AppendUvarint(want, uint64(len(big)))
			want = append(want, big...)
			e.str(big)
		}
	}
	if len(e.full) < 4 {
		t.Fatalf("%d chunks filled, want several", len(e.full))
	}
	if e.len() != len(want) {
		t.Fatalf("len %d, want %d", e.len(), len(want))
	}
	if !bytes.Equal(e.bytes(), want) {
		t.Fatal("the chunks differ from the bytes appended")
	}
	var buf bytes.Buffer
	if err := e.writeTo(&buf); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatal("writeTo wrote other bytes")
	}
	for _, c := range e.full {
		if cap(c) > max(len(c), encoderChunk) {
			t.Fatalf("a chunk of %d bytes grew to %d: copied as it filled", len(c), cap(c))
		}
	}
}

// TestStateV1PagesRead: a state file of the first format, which holds
// each ad's page version itself rather than its digest, still opens
// without a relink, with the same answers, and an ad put again with its
// version unchanged is not indexed again while an edited one is.
func TestStateV1PagesRead(t *testing.T) {
	ads := linkCorpus(120)
	for i := range ads {
		ads[i].PageSHA256 = fmt.Sprintf("%064x", i) // versions as long as real ones
	}
	dir := t.TempDir()
	buildSaved(t, dir, ads, 40)
	path := statePath(filepath.Join(dir, "index.bleve"))
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(data[:len(stateMagic)]) != stateMagic {
		t.Fatalf("saved as %q, want %q", data[:len(stateMagic)], stateMagic)
	}
	// The same file in the first format: the pages section as versions.
	d := &decoder{b: data[len(stateMagic) : len(data)-4]}
	inst, seq, threshold, maxLink := d.str(), d.uint(), d.uint(), d.uint()
	core, facts := d.bytes(), d.bytes()
	pd := &decoder{b: d.bytes()}
	byID := map[uint64]string{}
	for i := range ads {
		byID[pageDigest(ads[i].Version())] = ads[i].Version()
	}
	e := &encoder{}
	e.raw([]byte(stateMagicV1))
	e.str(inst)
	e.uint(seq)
	e.uint(threshold)
	e.uint(maxLink)
	pages := &encoder{}
	for pd.err == nil && len(pd.b) > 0 {
		v, ok := byID[pd.word()]
		if !ok {
			t.Fatal("a saved page digest of no ad's version")
		}
		pages.str(v)
	}
	for _, section := range [][]byte{core, facts, pages.bytes()} {
		e.uint(uint64(len(section)))
		e.raw(section)
	}
	old := e.bytes()
	old = binary.LittleEndian.AppendUint32(old, crc32.Checksum(old, castagnoli))
	if err := os.WriteFile(path, old, 0o600); err != nil {
		t.Fatal(err)
	}
	want := relinked(t, dir, ads)
	var logged bytes.Buffer
	x, err := OpenLogged(dir, 8, 25, false, logTo(&logged))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if strings.Contains(logged.String(), "linking every indexed ad") {
		t.Fatalf("the first format's state was not used:\n%s", logged.String())
	}
	if got := linkAnswers(t, x.Linker, ads); !slices.Equal(got, want) {
		t.Fatalf("answers from the first format's state differ:\n%s", firstDiff(got, want))
	}
	edited := ads[7]
	edited.PageSHA256 = "edited"
	again, err := x.write([]record.Ad{ads[3], edited})
	if err != nil {
		t.Fatal(err)
	}
	if again == nil || len(again.fresh) != 1 || again.fresh[0].ID != edited.ID || len(again.edited) != 1 {
		t.Fatalf("put again: %+v, want only the edited ad, as edited", again)
	}
	if _, err := x.link(again, false); err != nil {
		t.Fatal(err)
	}
}
