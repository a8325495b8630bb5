package indexer

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// The linker's state is saved next to the index, so that opening the
// index does not read every ad again to link them (relink). The file is
// keyed to the index: each batch of ads Put writes, in the same bleve batch
// as the ads, the batch's sequence number (seqKey) and, once a state of
// some batch is saved, its ad ids (journalPrefix + seq). The file records
// the sequence number it is the state of. Opening the index then:
//   - uses the file when it is the state of the index's last batch;
//   - catches up when it is older (a crash after the index was written and
//     before the file was): it links the ads of the journaled batches since;
//   - relinks every ad when the file is the state of no batch (saved at
//     the first open; what a catch-up would do);
//   - relinks every ad when the file is missing, corrupt (its checksum),
//     of another index (instanceKey), of other linking settings, or when
//     a batch it lacks is not journaled, with a logged warning.
//
// The file is written atomically (a temporary file renamed) when the index
// closes, after a relink or catch-up, and every so many ads Put.
const stateFile = "adwatch-linker.state"

// stateMagic opens the file and names its format: version 2 holds each
// ad's page version as its digest (pageDigest), version 1, still read,
// the version itself.
const stateMagic = "adwatch linker state v2\n"

// stateMagicV1 opens a file of the first format.
const stateMagicV1 = "adwatch linker state v1\n"

var (
	seqKey      = []byte("adwatch/linker/seq")
	instanceKey = []byte("adwatch/linker/instance")
)

const journalPrefix = "adwatch/linker/journal/"

func journalKey(seq uint64) []byte { return []byte(journalPrefix + strconv.FormatUint(seq, 10)) }

// saveEvery is how many ads Put links between two saves of the state at
// least: at most a tenth of the ads are linked again after a crash.
const saveEvery = 20_000

// statePath is the state file of the index at dir/index.bleve: inside the
// index's directory, so that it moves with it (adwatch reindex).
func statePath(indexPath string) string { return filepath.Join(indexPath, stateFile) }

// readSeq returns the index's batch sequence number and instance id,
// giving a writable index an instance id when it has none.
func (x *Index) readSeq() error {
	data, err := x.bleve.GetInternal(seqKey)
	if err != nil {
		return fmt.Errorf("reading the index's sequence: %w", err)
	}
	x.seq = 0
	if len(data) == 8 {
		x.seq = binary.BigEndian.Uint64(data)
	}
	inst, err := x.bleve.GetInternal(instanceKey)
	if err != nil {
		return fmt.Errorf("reading the index's instance: %w", err)
	}
	if len(inst) == 0 && !x.readOnly {
		var b [16]byte
		_, _ = rand.Read(b[:])
		inst = []byte(hex.EncodeToString(b[:]))
		if err := x.bleve.SetInternal(instanceKey, inst); err != nil {
			return fmt.Errorf("writing the index's instance: %w", err)
		}
	}
	x.instance = string(inst)
	return nil
}

// journalValue is what Put writes in its batch: the next sequence number
// and the batch's ids.
func (x *Index) journalValue(ids []string) (seq []byte, journal []byte, err error) {
	journal, err = json.Marshal(ids)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding the batch's ids: %w", err)
	}
	return binary.BigEndian.AppendUint64(nil, x.seq+1), journal, nil
}

// errNothingSaved says the state file was saved before any batch was
// written: its batches are not journaled, and linking every indexed ad
// catches up.
var errNothingSaved = errors.New("linker state saved before any batch")

// errStale says the state file is usable only after catching up.
var errStale = errors.New("linker state older than the index")

// loadLinker sets up x.Linker: from the state file, caught up with the
// batches written since, or else relinked from every indexed ad. It
// reports whether the linker now differs from the file (to be saved).
func (x *Index) loadLinker(phashThreshold, maxLink int) (dirty bool, err error) {
	if err := x.readSeq(); err != nil {
		return false, err
	}
	l, pages, savedSeq, err := x.readState(phashThreshold, maxLink)
	if err == nil {
		x.Linker, x.pages, x.savedSeq = l, pages, savedSeq
		if savedSeq == x.seq {
			return false, nil
		}
		err = errNothingSaved
		if savedSeq > 0 {
			err = x.catchUp(savedSeq)
		}
		if err == nil {
			x.log.Info("linker state caught up with the index", "batches", x.seq-savedSeq)
			return true, nil
		}
	}
	switch {
	case errors.Is(err, errNothingSaved):
		x.log.Info("the linker's saved state holds no batch: linking every indexed ad")
	case errors.Is(err, fs.ErrNotExist):
		if x.seq > 0 || x.hasAds() {
			x.log.Info("no saved linker state: linking every indexed ad")
		}
	default:
		x.log.Warn("saved linker state not usable: linking every indexed ad", "err", err)
	}
	if x.unmapState != nil {
		// The state read could not be caught up: its file is not read.
		_ = x.unmapState()
		x.unmapState = nil
	}
	x.Linker = NewLinker(phashThreshold, maxLink)
	x.pages = map[string]uint64{}
	x.savedSeq = 0
	if err := x.relink(); err != nil {
		return false, err
	}
	return true, nil
}

func (x *Index) hasAds() bool {
	n, err := x.bleve.DocCount()
	return err != nil || n > 0
}

// readState reads and checks the state file.
func (x *Index) readState(phashThreshold, maxLink int) (l *Linker, pages map[string]uint64, seq uint64, err error) {
	// Mapped: the linker reads its encoded parts when first asked, and
	// until then they are pages of the file, which the kernel can drop,
	// not hundreds of megabytes of heap (which the collector would
	// double). A save writes a new file and renames it over this one,
	// whose pages stay readable until unmapped: at the first save after
	// every part is decoded (saveState), or at Close.
	data, unmap, drop, err := mapState(statePath(x.path))
	if err != nil {
		return nil, nil, 0, err
	}
	defer func() {
		if l == nil {
			_ = unmap()
			return
		}
		x.unmapState = unmap
		// Checking and decoding read every page of the file; the few
		// parts read later (a profile's links, the facts at the first
		// new ad) come back when asked, the rest need not stay resident.
		drop()
	}()
	if len(data) < len(stateMagic)+4 || string(data[:len(stateMagic)]) != stateMagic && string(data[:len(stateMagic)]) != stateMagicV1 {
		return nil, nil, 0, fmt.Errorf("%w: not a linker state file", errCorrupt)
	}
	v1 := string(data[:len(stateMagic)]) == stateMagicV1
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return nil, nil, 0, fmt.Errorf("%w: checksum mismatch", errCorrupt)
	}
	d := &decoder{b: body[len(stateMagic):]}
	inst, seq := d.str(), d.uint()
	threshold, maxL := d.uint(), d.uint()
	if d.err != nil {
		return nil, nil, 0, d.err
	}
	switch {
	case x.instance == "" || inst != x.instance:
		return nil, nil, 0, errors.New("linker state of another index")
	case seq > x.seq:
		return nil, nil, 0, fmt.Errorf("linker state newer than the index (batch %d of %d)", seq, x.seq)
	case threshold != uint64(phashThreshold) || maxL != uint64(maxLink):
		return nil, nil, 0, errors.New("linker state made with other linking settings")
	}
	l = NewLinker(phashThreshold, maxLink)
	core := d.bytes()
	lazy := d.bytes()
	pagesData := d.bytes()
	if d.err != nil || len(d.b) != 0 {
		return nil, nil, 0, errCorrupt
	}
	cd := &decoder{b: core}
	l.decodeCore(cd)
	if cd.err != nil || len(cd.b) != 0 {
		return nil, nil, 0, fmt.Errorf("%w: its profiles", errCorrupt)
	}
	// The facts are decoded when first needed, to link a new ad; checked
	// now, unless nothing will be linked: a read-only index whose state is
	// current (the checksum has vouched for the bytes).
	if !x.readOnly || seq != x.seq {
		fd := &decoder{b: lazy}
		l.decodeFacts(fd, false)
		if fd.err != nil || len(fd.b) != 0 {
			return nil, nil, 0, fmt.Errorf("%w: its facts", errCorrupt)
		}
	}
	l.lazyFacts, l.lookupsMissing = lazy, true
	if !x.readOnly {
		pd := &decoder{b: pagesData}
		pages = make(map[string]uint64, len(l.ids))
		for _, id := range l.ids {
			if v1 {
				pages[id] = pageDigest(viewString(pd.bytes()))
			} else {
				pages[id] = pd.word()
			}
		}
		if pd.err != nil || len(pd.b) != 0 {
			return nil, nil, 0, fmt.Errorf("%w: its pages", errCorrupt)
		}
	}
	return l, pages, seq, nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// catchUp links the ads of the batches written after the state file's.
func (x *Index) catchUp(from uint64) error {
	for seq := from + 1; seq <= x.seq; seq++ {
		data, err := x.bleve.GetInternal(journalKey(seq))
		if err != nil {
			return fmt.Errorf("reading batch %d: %w", seq, err)
		}
		if data == nil {
			return fmt.Errorf("%w: batch %d is not journaled", errStale, seq)
		}
		var ids []string
		if err := json.Unmarshal(data, &ids); err != nil {
			return fmt.Errorf("%w: batch %d: %w", errStale, seq, err)
		}
		ads, err := x.GetMany(ids)
		if err != nil {
			return err
		}
		byID := make(map[string]int, len(ads))
		for i := range ads {
			byID[ads[i].ID] = i
		}
		for _, id := range ids {
			i, ok := byID[id]
			if !ok {
				return fmt.Errorf("%w: ad %s of batch %d is not indexed", errStale, id, seq)
			}
			x.Linker.Add(&ads[i])
			if x.pages != nil {
				x.pages[id] = pageDigest(ads[i].Version())
			}
		}
	}
	// The redirects the batches made are written again: those a crash
	// kept from the log come back, and a line twice changes nothing.
	for k, v := range x.Linker.TakeRedirects() {
		x.pendingRedirects[k] = v
	}
	x.sinceSave = int(x.seq - from)
	return nil
}

// saveState writes the linker's state, atomically, and drops the journal
// of the batches it holds. The caller holds x.mu (or has x to itself).
func (x *Index) saveState() error {
	if x.readOnly {
		return nil
	}
	// A redirect the state holds is in the log first: a relink, which
	// reads the log, then knows it too.
	if err := x.writeRedirects(); err != nil {
		return err
	}
	l := x.Linker
	// The state goes to the file a section at a time, so that no more
	// than one section is held encoded.
	err := writeAtomic(statePath(x.path), func(w io.Writer) error {
		sum := crc32.New(castagnoli)
		w = io.MultiWriter(w, sum)
		l.mu.Lock()
		defer l.mu.Unlock()
		l.settleNetworks()
		e := &encoder{}
		e.raw([]byte(stateMagic))
		e.str(x.instance)
		e.uint(x.seq)
		e.uint(uint64(l.threshold))
		e.uint(uint64(l.maxLink))
		if err := e.writeTo(w); err != nil {
			return err
		}
		section := func(write func(s *encoder)) error {
			s := &encoder{}
			write(s)
			n := &encoder{}
			n.uint(uint64(s.len()))
			return errors.Join(n.writeTo(w), s.writeTo(w))
		}
		var err error
		if err = section(l.encodeCore); err != nil {
			return err
		}
		if l.lookupsMissing {
			// The facts as read, from the file's mapping: not copied.
			n := &encoder{}
			n.uint(uint64(len(l.lazyFacts)))
			if err = n.writeTo(w); err == nil {
				_, err = w.Write(l.lazyFacts)
			}
		} else {
			err = section(l.encodeFacts)
		}
		if err != nil {
			return err
		}
		if err := section(func(s *encoder) {
			for _, id := range l.ids {
				s.word(x.pages[id])
			}
		}); err != nil {
			return err
		}
		_, err = w.Write(binary.LittleEndian.AppendUint32(nil, sum.Sum32()))
		return err
	})
	if err != nil {
		return fmt.Errorf("saving linker state: %w", err)
	}
	b := x.bleve.NewBatch()
	for seq := x.savedSeq + 1; seq <= x.seq; seq++ {
		b.DeleteInternal(journalKey(seq))
	}
	if err := x.bleve.Batch(b); err != nil {
		return fmt.Errorf("dropping the saved batches' journal: %w", err)
	}
	x.savedSeq, x.sinceSave, x.dirty = x.seq, 0, false
	if x.unmapState != nil && !l.holdsEncoded() {
		// The file read at the open has been renamed over and nothing
		// decoded from it is left to read: its pages and disk space go.
		err := x.unmapState()
		x.unmapState = nil
		if err != nil {
			return fmt.Errorf("releasing the linker state read at the open: %w", err)
		}
	}
	return nil
}

// writeAtomic writes what write writes to path through a synced temporary file renamed
// over it: a reader sees the old file or the new, never part of one.
func writeAtomic(path string, write func(w io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	bw := bufio.NewWriterSize(tmp, 1<<20)
	if err := errors.Join(write(bw), bw.Flush()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	syncDir(filepath.Dir(path))
	return nil
}

// syncDir syncs directory dir, so that a file created or renamed in it
// keeps its name after a power cut; where a directory cannot be synced,
// nothing more can be done.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
