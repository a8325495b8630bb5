package evidence

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"strings"
	"time"
)

// Version is the WARC version written.
const Version = "WARC/1.1"

// Names of the WARC fields adwatch writes.
const (
	FieldType          = "WARC-Type"
	FieldRecordID      = "WARC-Record-ID"
	FieldDate          = "WARC-Date"
	FieldTargetURI     = "WARC-Target-URI"
	FieldConcurrentTo  = "WARC-Concurrent-To"
	FieldIPAddress     = "WARC-IP-Address"
	FieldBlockDigest   = "WARC-Block-Digest"
	FieldPayloadDigest = "WARC-Payload-Digest"
	FieldWarcinfoID    = "WARC-Warcinfo-ID"
	FieldFilename      = "WARC-Filename"
	FieldContentType   = "Content-Type"
	FieldContentLength = "Content-Length"
	// FieldCapture names the stored capture a request, response or
	// resource record was made from ("page 12", "page 12 image 0": the
	// sequence of the page on ADWATCH_PAGES and the index of the image
	// in it); Verify rebuilds the block from it.
	FieldCapture = "Adwatch-Capture"
)

// MaxBlockBytes bounds the block of a record read back.
const MaxBlockBytes = 1 << 30

// maxHeaderBytes bounds the named fields of a record read back.
const maxHeaderBytes = 1 << 20

// Field is one named field of a record.
type Field struct{ Name, Value string }

// Record is one WARC record: its named fields in order and its block.
type Record struct {
	Fields []Field
	Block  []byte
}

// Get returns the first value of the field name (case-insensitive), or "".
func (r *Record) Get(name string) string {
	for _, f := range r.Fields {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

// Values returns every value of the field name (case-insensitive).
func (r *Record) Values(name string) []string {
	var out []string
	for _, f := range r.Fields {
		if strings.EqualFold(f.Name, name) {
			out = append(out, f.Value)
		}
	}
	return out
}

// Add appends a field; a value with a line break or other control
// character has it replaced by a space (a field is one line).
func (r *Record) Add(name, value string) {
	r.Fields = append(r.Fields, Field{name, oneLine(value)})
}

func oneLine(s string) string {
	if strings.IndexFunc(s, isCtl) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if isCtl(r) {
			return ' '
		}
		return r
	}, s)
}

func isCtl(r rune) bool { return r < 0x20 || r == 0x7f }

// NewRecordID returns a new WARC-Record-ID: a random UUID as a URN in
// angle brackets.
func NewRecordID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return "<urn:uuid:" + h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:] + ">"
}

// Date formats t as a WARC-Date: UTC, to the second.
func Date(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// Digest is a WARC digest of b: SHA-1 in base32, "sha1:…".
func Digest(b []byte) string {
	s := sha1.Sum(b)
	return "sha1:" + base32.StdEncoding.EncodeToString(s[:])
}

// Payload returns the payload of a block of contentType: the body after
// the header of an application/http message, the whole block otherwise.
func Payload(contentType string, block []byte) []byte {
	if !strings.HasPrefix(strings.ToLower(strings.TrimSpace(contentType)), "application/http") {
		return block
	}
	if i := bytes.Index(block, []byte("\r\n\r\n")); i >= 0 {
		return block[i+4:]
	}
	return nil
}

// SetDigests sets Content-Length, WARC-Block-Digest and
// WARC-Payload-Digest from the block, replacing any there.
func (r *Record) SetDigests() {
	kept := r.Fields[:0]
	for _, f := range r.Fields {
		switch {
		case strings.EqualFold(f.Name, FieldContentLength), strings.EqualFold(f.Name, FieldBlockDigest), strings.EqualFold(f.Name, FieldPayloadDigest):
		default:
			kept = append(kept, f)
		}
	}
	r.Fields = kept
	r.Add(FieldBlockDigest, Digest(r.Block))
	r.Add(FieldPayloadDigest, Digest(Payload(r.Get(FieldContentType), r.Block)))
	r.Add(FieldContentLength, strconv.Itoa(len(r.Block)))
}

// Writer writes WARC records, each as its own gzip member when
// compressing.
type Writer struct {
	w        io.Writer
	compress bool
	zw       *gzip.Writer
	records  int
}

// NewWriter returns a writer to w; compress writes .warc.gz.
func NewWriter(w io.Writer, compress bool) *Writer { return &Writer{w: w, compress: compress} }

// Records is the number of records written.
func (w *Writer) Records() int { return w.records }

// Write writes r as it is: its fields (Content-Length and the digests
// included: see SetDigests) and its block.
func (w *Writer) Write(r *Record) error {
	var buf bytes.Buffer
	buf.WriteString(Version + "\r\n")
	for _, f := range r.Fields {
		buf.WriteString(f.Name + ": " + f.Value + "\r\n")
	}
	buf.WriteString("\r\n")
	buf.Write(r.Block)
	buf.WriteString("\r\n\r\n")
	if w.compress {
		zw := w.zw
		if zw == nil {
			zw, _ = gzip.NewWriterLevel(w.w, gzip.BestSpeed)
			w.zw = zw
		} else {
			zw.Reset(w.w) // a new member; the writer's tables are reused
		}
		if _, err := zw.Write(buf.Bytes()); err != nil {
			return fmt.Errorf("writing record: %w", err)
		}
		if err := zw.Close(); err != nil {
			return fmt.Errorf("writing record: %w", err)
		}
	} else if _, err := w.w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("writing record: %w", err)
	}
	w.records++
	return nil
}

// ErrFormat is the error of a file that is not WARC as this package reads it.
var ErrFormat = errors.New("not a WARC record")

// NewReader returns a reader of the records of r, a .warc or a .warc.gz
// (told apart by gzip's magic bytes).
func NewReader(r io.Reader) (*bufio.Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, err := br.Peek(2)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("reading gzip: %w", err)
		}
		return bufio.NewReaderSize(zr, 64<<10), nil
	}
	return br, nil
}

// ReadRecord reads the next record from br: io.EOF when there is none,
// an error wrapping ErrFormat when what follows is not a WARC record.
func ReadRecord(br *bufio.Reader) (*Record, error) {
	line, err := readLine(br, maxHeaderBytes)
	for err == nil && line == "" { // blank lines between records
		line, err = readLine(br, maxHeaderBytes)
	}
	if err != nil {
		if errors.Is(err, io.EOF) && line == "" {
			return nil, io.EOF
		}
		return nil, err
	}
	if !strings.HasPrefix(line, "WARC/") {
		return nil, fmt.Errorf("%w: first line %q", ErrFormat, truncate(line))
	}
	r := &Record{}
	size := len(line)
	for {
		line, err := readLine(br, maxHeaderBytes-size)
		if err != nil {
			return nil, fmt.Errorf("%w: reading the named fields: %w", ErrFormat, err)
		}
		size += len(line)
		if line == "" {
			break
		}
		if (line[0] == ' ' || line[0] == '\t') && len(r.Fields) > 0 { // a continuation line
			r.Fields[len(r.Fields)-1].Value += " " + strings.TrimSpace(line)
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || name == "" {
			return nil, fmt.Errorf("%w: field line %q", ErrFormat, truncate(line))
		}
		r.Fields = append(r.Fields, Field{strings.TrimSpace(name), strings.TrimSpace(value)})
	}
	n, err := strconv.ParseInt(r.Get(FieldContentLength), 10, 64)
	if err != nil || n < 0 {
		return nil, fmt.Errorf("%w: Content-Length %q", ErrFormat, r.Get(FieldContentLength))
	}
	if n > MaxBlockBytes {
		return nil, fmt.Errorf("%w: a block of %d bytes, over %d", ErrFormat, n, MaxBlockBytes)
	}
	var block bytes.Buffer
	if _, err := io.CopyN(&block, br, n); err != nil {
		return nil, fmt.Errorf("%w: block cut short: %w", ErrFormat, err)
	}
	r.Block = block.Bytes()
	var end [4]byte
	if _, err := io.ReadFull(br, end[:]); err != nil || string(end[:]) != "\r\n\r\n" {
		return nil, fmt.Errorf("%w: no CRLF CRLF after the block of %s", ErrFormat, r.Get(FieldRecordID))
	}
	return r, nil
}

// readLine reads one line ending in CRLF (or LF) without it, of at most
// limit bytes.
func readLine(br *bufio.Reader, limit int) (string, error) {
	var sb strings.Builder
	for {
		frag, err := br.ReadSlice('\n')
		sb.Write(frag)
		if sb.Len() > limit {
			return "", fmt.Errorf("%w: a header over %d bytes", ErrFormat, maxHeaderBytes)
		}
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) && sb.Len() > 0 {
			return "", io.ErrUnexpectedEOF
		}
		return "", err
	}
	s := strings.TrimSuffix(sb.String(), "\n")
	return strings.TrimSuffix(s, "\r"), nil
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// CheckDigest reports whether digest ("sha1:…" or "sha256:…", base32 or
// hex) is that of b; an error for an algorithm or encoding it does not
// know.
func CheckDigest(digest string, b []byte) (bool, error) {
	alg, value, ok := strings.Cut(digest, ":")
	if !ok {
		return false, fmt.Errorf("digest %q: no algorithm", truncate(digest))
	}
	var h hash.Hash
	switch strings.ToLower(strings.ReplaceAll(alg, "-", "")) {
	case "sha1":
		h = sha1.New()
	case "sha256":
		h = sha256.New()
	default:
		return false, fmt.Errorf("digest %q: algorithm %q not supported", truncate(digest), alg)
	}
	h.Write(b)
	sum := h.Sum(nil)
	value = strings.TrimSpace(value)
	switch len(value) {
	case base32.StdEncoding.EncodedLen(len(sum)):
		return strings.EqualFold(value, base32.StdEncoding.EncodeToString(sum)), nil
	case hex.EncodedLen(len(sum)):
		return strings.EqualFold(value, hex.EncodeToString(sum)), nil
	}
	return false, fmt.Errorf("digest %q: not base32 or hex of %s", truncate(digest), alg)
}
