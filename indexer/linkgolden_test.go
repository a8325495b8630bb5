package indexer

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/adwatch/adwatch/internal/record"
)

// goldenStateFile is the linker state (encodeCore, then encodeFacts,
// each length-prefixed) of goldenSequence's first part, as the linker of
// 27 November 2026 (before the compact layout) wrote it: what a state
// file of that linker holds besides the index's instance, sequence,
// settings and pages.
var goldenStateFile = filepath.Join("testdata", "linker-v1.state")

// The digests of everything the linker answered on goldenSequence, taken
// with the linker of 27 November 2026: linking decisions must not move.
const (
	goldenLive   = "d2bd1a1a8ba59506a27519c184aa0048807b3d0181825e2b1a318bdc95409f47"
	goldenLoaded = "d480feb573ba0b6576cdb0fe506efdb8ce2e5fed3c75f40d79b09ae56138c13a"
)

// goldenMaxLink is low, so that contacts are capped, and uncapped again.
const goldenMaxLink = 6

// goldenSequence is linkCorpus's ads with photos near other persons' crop
// variants, crop variants near other persons' photos, and edits (an ad
// added again with another phone and photo), in the order they are added.
func goldenSequence() []record.Ad {
	ads := linkCorpus(1800)
	persons := len(ads)/3 + 1
	crop := func(p, k int) uint64 { return uint64(p*16+k+1) * 0x9e3779b97f4a7c15 }
	for i := range ads {
		a := &ads[i]
		switch {
		case i%9 == 0:
			a.Poster = "" // linked by contact and text
		case i%5 == 0:
			// A second agency line, on ads of persons named apart.
			a.Phones = append(a.Phones, record.Phone{E164: "+18885550199"})
			a.Poster = fmt.Sprint("solo", i)
		}
		switch {
		case i%11 == 0 && len(a.Images) > 0:
			a.Images[0].PHash = fmt.Sprintf("%016x", crop((i*7)%persons, i%3)^1<<(i%64))
		case i%13 == 0:
			img := record.Image{PHash: fmt.Sprintf("%016x", uint64(i)*0x2545f4914f6cdd1d), SHA256: fmt.Sprintf("%064x", i+1_000_000)}
			img.PHashCrops = []string{fmt.Sprintf("%016x", (uint64((i*5)%persons)*0x9e3779b97f4a7c15)^3<<(i%60))}
			a.Images = append(a.Images, img)
		}
	}
	var out []record.Ad
	for i, a := range ads {
		out = append(out, a)
		if i%17 == 5 && i > 40 {
			e := ads[i-37]
			e.Images = append(slices.Clone(e.Images), record.Image{PHash: fmt.Sprintf("%016x", crop(i%persons, 0)^1<<(i%64)), SHA256: fmt.Sprintf("%064x", i+2_000_000)})
			e.Phones = append(slices.Clone(e.Phones), record.Phone{E164: fmt.Sprintf("+1650%07d", i%97)})
			e.Body = fmt.Sprintf("sweet friendly person number %d new in town", (i*3)%300)
			out = append(out, e)
		}
	}
	return out
}

// goldenAnswers adds ads to l and returns what Add and TakeRedirects
// answered, then everything linkAnswers does and every profile's links.
func goldenAnswers(t *testing.T, l *Linker, ads, all []record.Ad) []string {
	t.Helper()
	var out []string
	for i := range ads {
		out = append(out, fmt.Sprint(ads[i].ID, " changed ", l.Add(&ads[i])))
		if i%50 == 49 {
			r := l.TakeRedirects()
			keys := slices.Sorted(func(yield func(string) bool) {
				for k := range r {
					if !yield(k) {
						return
					}
				}
			})
			for _, k := range keys {
				out = append(out, fmt.Sprint("redirect ", k, " ", r[k]))
			}
		}
	}
	var uniq []record.Ad
	seen := map[string]bool{}
	for _, a := range all {
		if !seen[a.ID] && l.Profile(a.ID) != "" {
			seen[a.ID] = true
			uniq = append(uniq, a)
		}
	}
	out = append(out, linkAnswers(t, l, uniq)...)
	done := map[string]bool{}
	for _, a := range uniq {
		p := l.Profile(a.ID)
		if !done[p] {
			done[p] = true
			out = append(out, fmt.Sprint(p, " links ", l.Links(p), " network members ", l.NetworkMembers(l.Network(p))))
		}
	}
	return out
}

func digest(t *testing.T, name string, lines []string) string {
	t.Helper()
	text := strings.Join(lines, "\n")
	if dir := os.Getenv("ADWATCH_GOLDEN_DUMP"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := sha256.Sum256([]byte(text))
	return hex.EncodeToString(s[:])
}

// encodeLinker is the linker's saved state without the index's parts.
func encodeLinker(l *Linker) []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.settleNetworks()
	e := &encoder{}
	for _, write := range []func(*encoder){l.encodeCore, l.encodeFacts} {
		s := &encoder{}
		write(s)
		e.uint(uint64(s.len()))
		e.raw(s.bytes())
	}
	return e.bytes()
}

// factsSection is the facts part of what encodeLinker wrote.
func factsSection(t *testing.T, data []byte) []byte {
	t.Helper()
	d := &decoder{b: data}
	d.bytes()
	facts := d.bytes()
	if d.err != nil {
		t.Fatal("the state does not parse")
	}
	return facts
}

// decodeLinker reads what encodeLinker wrote, as readState does.
func decodeLinker(t *testing.T, data []byte) *Linker {
	t.Helper()
	l := NewLinker(8, goldenMaxLink)
	d := &decoder{b: data}
	core, lazy := d.bytes(), d.bytes()
	if d.err != nil || len(d.b) != 0 {
		t.Fatal("the state does not parse")
	}
	cd := &decoder{b: core}
	l.decodeCore(cd)
	if cd.err != nil || len(cd.b) != 0 {
		t.Fatal("the state's core does not parse")
	}
	fd := &decoder{b: lazy}
	l.decodeFacts(fd, false)
	if fd.err != nil || len(fd.b) != 0 {
		t.Fatal("the state's facts do not parse")
	}
	l.lazyFacts, l.lookupsMissing = lazy, true
	return l
}

// TestLinkerGolden holds linking to what it decided before the compact
// layout: the same answers, the same saved state, bit for bit, and a state
// saved then still loads and links on as it did. ADWATCH_GOLDEN_UPDATE=1
// rewrites the state file (only ever with the linker it is the state of).
func TestLinkerGolden(t *testing.T) {
	seq := goldenSequence()
	half := len(seq) * 2 / 3
	live := NewLinker(8, goldenMaxLink)
	first := goldenAnswers(t, live, seq[:half], seq[:half])
	state := encodeLinker(live)
	if os.Getenv("ADWATCH_GOLDEN_UPDATE") == "1" {
		if err := os.WriteFile(goldenStateFile, state, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old, err := os.ReadFile(goldenStateFile)
	if err != nil {
		t.Fatal(err)
	}
	// The facts are written bit for bit as before; the core's network
	// union-find depends on map order (which of two equal networks is the
	// root), so it is held to answering the same.
	if got, want := factsSection(t, state), factsSection(t, old); !bytes.Equal(got, want) {
		t.Errorf("the saved facts differ from %s's (%d bytes, want %d)", goldenStateFile, len(got), len(want))
	}
	liveLines := append(first, goldenAnswers(t, live, seq[half:], seq)...)
	loadedLines := goldenAnswers(t, decodeLinker(t, old), seq[half:], seq)
	if again := goldenAnswers(t, decodeLinker(t, state), seq[half:], seq); !slices.Equal(again, loadedLines) {
		t.Errorf("the state saved now links on otherwise than the one saved before:\n%s", firstDiff(again, loadedLines))
	}
	if got := digest(t, "live", liveLines); got != goldenLive {
		t.Errorf("linking live answers otherwise: digest %s, want %s", got, goldenLive)
	}
	if got := digest(t, "loaded", loadedLines); got != goldenLoaded {
		t.Errorf("linking on from the saved state answers otherwise: digest %s, want %s", got, goldenLoaded)
	}
}
