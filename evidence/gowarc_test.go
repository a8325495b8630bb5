package evidence

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/nlnwa/gowarc/v3"
)

// TestReadByGowarc reads the export with nlnwa/gowarc, an archivists'
// WARC library, in its strict mode: every record parses, conforms to WARC
// 1.1 and has both digests right; a changed byte is caught by it too.
func TestReadByGowarc(t *testing.T) {
	st, ctx := fixture(t)
	for _, compress := range []bool{false, true} {
		data, stats := export(t, ctx, st, Selection{All: true}, compress)
		n, bad := readByGowarc(t, data)
		if n != stats.Records || bad != 0 {
			t.Errorf("compress %v: gowarc read %d records (%d failing), want %d good", compress, n, bad, stats.Records)
		}
	}
	data, _ := export(t, ctx, st, Selection{All: true}, false)
	i := bytes.Index(data, []byte("caf\xe9"))
	data[i] ^= 0x01
	if n, bad := readByGowarc(t, data); bad != 1 || n != 3 {
		t.Errorf("gowarc refused record %d (%d bad) of a file with one byte changed in record 3", n, bad)
	}
}

func readByGowarc(t *testing.T, data []byte) (n, bad int) {
	t.Helper()
	r, err := gowarc.NewWarcFileReaderFromStream(bytes.NewReader(data), 0, gowarc.WithStrictValidation())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return n, bad
		}
		n++
		if err != nil { // gowarc cannot read on after a record it refuses
			t.Logf("gowarc, record %d: %v", n, err)
			return n, bad + 1
		}
		v, err := rec.WarcRecord.ValidateDigest()
		if err != nil || len(v) > 0 {
			t.Logf("record %d (%s): %v %v", n, rec.WarcRecord.Type(), err, v)
			bad++
		}
		rec.WarcRecord.Close()
	}
}
