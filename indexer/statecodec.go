package indexer

import (
	"encoding/binary"
	"errors"
	"io"
	"math"
)

// errCorrupt is what the state decoder finds in a file that does not
// parse: truncated, or written by something else.
var errCorrupt = errors.New("linker state corrupt")

// encoder appends the linker state's fields to chunks of bytes: unsigned
// varints, zig-zag varints, length-prefixed strings and fixed 64-bit
// words. Chunks of encoderChunk bytes, never copied once written, keep a
// state of hundreds of megabytes at its own size while it is encoded
// (a growing slice would copy it and hold up to twice as much).
type encoder struct {
	b    []byte   // the chunk being filled
	full [][]byte // the chunks filled before it
	n    int      // the bytes in full
}

// encoderChunk is the size of an encoder's chunks.
const encoderChunk = 1 << 20

// room makes sure the current chunk has room for k more bytes.
func (e *encoder) room(k int) {
	if cap(e.b)-len(e.b) < k {
		e.next(k)
	}
}

// next starts a chunk of at least k bytes: twice the last, from 4 kB
// up to encoderChunk, so that a small encoder stays small.
func (e *encoder) next(k int) {
	if len(e.b) > 0 {
		e.full = append(e.full, e.b)
		e.n += len(e.b)
	}
	size := min(max(2*cap(e.b), 4<<10), encoderChunk)
	e.b = make([]byte, 0, max(k, size))
}

func (e *encoder) uint(v uint64) {
	e.room(binary.MaxVarintLen64)
	e.b = binary.AppendUvarint(e.b, v)
}

func (e *encoder) int(v int64) {
	e.room(binary.MaxVarintLen64)
	e.b = binary.AppendVarint(e.b, v)
}

func (e *encoder) word(v uint64) {
	e.room(8)
	e.b = binary.LittleEndian.AppendUint64(e.b, v)
}

func (e *encoder) str(s string) {
	e.uint(uint64(len(s)))
	e.room(len(s))
	e.b = append(e.b, s...)
}

// raw appends p as it is.
func (e *encoder) raw(p []byte) {
	e.room(len(p))
	e.b = append(e.b, p...)
}

func (e *encoder) strs(s []string) { e.uint(uint64(len(s))); e.each(s) }
func (e *encoder) each(s []string) {
	for _, v := range s {
		e.str(v)
	}
}

// len is the number of bytes encoded.
func (e *encoder) len() int { return e.n + len(e.b) }

// writeTo writes the bytes encoded to w, a chunk at a time.
func (e *encoder) writeTo(w io.Writer) error {
	for _, c := range e.full {
		if _, err := w.Write(c); err != nil {
			return err
		}
	}
	_, err := w.Write(e.b)
	return err
}

// bytes returns the bytes encoded in one slice.
func (e *encoder) bytes() []byte {
	out := make([]byte, 0, e.len())
	for _, c := range e.full {
		out = append(out, c...)
	}
	return append(out, e.b...)
}

func (e *encoder) bool(v bool) {
	if v {
		e.uint(1)
	} else {
		e.uint(0)
	}
}

func (e *encoder) ints(s []int32) {
	e.uint(uint64(len(s)))
	for _, v := range s {
		e.uint(uint64(v))
	}
}

// decoder reads what encoder wrote. The first error sticks: later reads
// return zero values, and err reports it.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() { d.err, d.b = errCorrupt, nil }

func (d *decoder) uint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) int() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) word() uint64 {
	if len(d.b) < 8 {
		d.fail()
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *decoder) bool() bool { return d.uint() == 1 }

// count reads a length, failing when fewer than min bytes each could
// follow: a corrupt length never allocates more than the file holds.
func (d *decoder) count(minEach int) int {
	v := d.uint()
	if v > math.MaxInt32 || int(v)*minEach > len(d.b) {
		d.fail()
		return 0
	}
	return int(v)
}

func (d *decoder) bytes() []byte {
	n := d.count(1)
	out := d.b[:n:n]
	d.b = d.b[n:]
	return out
}

func (d *decoder) str() string { return string(d.bytes()) }

func (d *decoder) strs() []string {
	n := d.count(1)
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = d.str()
	}
	return out
}

// ad reads an ad index, failing on one out of range.
func (d *decoder) ad(n int) int32 {
	v := d.uint()
	if v >= uint64(n) {
		d.fail()
		return 0
	}
	return int32(v)
}

func (d *decoder) ads(n int) []int32 {
	c := d.count(1)
	out := make([]int32, c)
	for i := range out {
		out[i] = d.ad(n)
	}
	return out
}
