package evidence

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/adwatch/adwatch/internal/bus"
	"github.com/adwatch/adwatch/internal/record"
)

// Problem is a record that does not verify.
type Problem struct {
	// Record is its WARC-Record-ID, Type its WARC-Type and URI its
	// WARC-Target-URI.
	Record, Type, URI string
	// What is wrong.
	What string
}

// Report is what Verify found.
type Report struct {
	// Records were read; Verified of them had both digests right and,
	// when made from a stored capture, the same block as it.
	Records, Verified int
	// Compared are the records compared with a stored capture.
	Compared int
	Problems []Problem
}

// Verify reads every record of br (see NewReader), recomputes its block
// and payload digests, and rebuilds the block of every request, response
// and resource record from the capture it names in Adwatch-Capture (the
// page by its sequence on the pages stream, an image by its SHA-256 in the
// object store), so a record that was changed, or whose stored capture
// changed, is named in the report. It stops with an error only when the
// file cannot be read on or the store cannot be reached.
func Verify(ctx context.Context, st Store, br *bufio.Reader) (Report, error) {
	var rep Report
	pages := &pageCache{st: st}
	for {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		r, err := ReadRecord(br)
		if err == io.EOF { // not wrapped: a record cut short is an error
			return rep, nil
		}
		if err != nil {
			return rep, fmt.Errorf("reading record %d: %w", rep.Records+1, err)
		}
		rep.Records++
		what, err := checkRecord(ctx, pages, r)
		if err != nil {
			return rep, err
		}
		if what != "" {
			rep.Problems = append(rep.Problems, Problem{Record: r.Get(FieldRecordID), Type: r.Get(FieldType), URI: r.Get(FieldTargetURI), What: what})
			continue
		}
		if r.Get(FieldCapture) != "" {
			rep.Compared++
		}
		rep.Verified++
	}
}

// checkRecord returns what is wrong with r, or "".
func checkRecord(ctx context.Context, pages *pageCache, r *Record) (string, error) {
	var wrong []string
	for _, d := range []struct {
		field string
		data  []byte
	}{
		{FieldBlockDigest, r.Block},
		{FieldPayloadDigest, Payload(r.Get(FieldContentType), r.Block)},
	} {
		v := r.Get(d.field)
		if v == "" {
			wrong = append(wrong, "no "+d.field)
			continue
		}
		ok, err := CheckDigest(v, d.data)
		switch {
		case err != nil:
			wrong = append(wrong, err.Error())
		case !ok:
			wrong = append(wrong, d.field+" does not match the record's content")
		}
	}
	if src := r.Get(FieldCapture); src != "" {
		what, err := compare(ctx, pages, r, src)
		if err != nil {
			return "", err
		}
		if what != "" {
			wrong = append(wrong, what)
		}
	}
	return strings.Join(wrong, "; "), nil
}

// compare rebuilds r's block from the stored capture src names.
func compare(ctx context.Context, pages *pageCache, r *Record, src string) (string, error) {
	seq, image, err := parseSource(src)
	if err != nil {
		return err.Error(), nil
	}
	p, err := pages.get(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return fmt.Sprintf("the stored capture (%s) is gone from %s", src, bus.StreamPages), nil
	}
	if err != nil {
		return "", err
	}
	if p == nil {
		return fmt.Sprintf("the stored capture (%s) is not a page", src), nil
	}
	var x exchange
	if image < 0 {
		x = pageExchange(p)
	} else {
		if image >= len(p.Images) || p.Images[image].SHA256 == "" {
			return fmt.Sprintf("the stored page (%s) has no such image", src), nil
		}
		img := &p.Images[image]
		data, err := pages.st.Images.GetBytes(ctx, img.SHA256)
		if errors.Is(err, jetstream.ErrObjectNotFound) {
			return fmt.Sprintf("image %s (%s) is gone from the image store", img.SHA256, src), nil
		}
		if err != nil {
			return "", fmt.Errorf("reading image %s: %w", img.SHA256, err)
		}
		if record.SHA256Hex(data) != img.SHA256 {
			return fmt.Sprintf("the stored image %s no longer hashes to its SHA-256", img.SHA256), nil
		}
		x = imageExchange(img, p.FetchedAt, data)
	}
	var want []byte
	switch r.Get(FieldType) {
	case "request":
		want = x.request
	case "response":
		want = x.response
	case "resource":
		want = x.body
		if x.response != nil {
			want = nil
		}
	default:
		return "", nil
	}
	if want == nil {
		return fmt.Sprintf("a %s record, but the stored capture (%s) has none", r.Get(FieldType), src), nil
	}
	if r.Get(FieldTargetURI) != x.uri {
		return fmt.Sprintf("WARC-Target-URI differs from the stored capture's %s", x.uri), nil
	}
	if !bytes.Equal(r.Block, want) {
		if got, stored := Payload(r.Get(FieldContentType), r.Block), x.body; r.Get(FieldType) != "request" && !bytes.Equal(got, stored) {
			return fmt.Sprintf("the body differs from the stored capture (%s): %d bytes, stored %d", src, len(got), len(stored)), nil
		}
		return fmt.Sprintf("the block differs from the stored capture (%s)", src), nil
	}
	return "", nil
}

// pageCache keeps the last page read: a page's records come together.
type pageCache struct {
	st   Store
	s    jetstream.Stream
	seq  uint64
	page *record.Page
}

// get returns the page at seq on the pages stream, nil when the message
// there is not a page.
func (c *pageCache) get(ctx context.Context, seq uint64) (*record.Page, error) {
	if c.page != nil && c.seq == seq {
		return c.page, nil
	}
	if c.s == nil {
		s, err := c.st.JS.Stream(ctx, bus.StreamPages)
		if err != nil {
			return nil, fmt.Errorf("opening stream %s: %w", bus.StreamPages, err)
		}
		c.s = s
	}
	m, err := c.s.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s message %d: %w", bus.StreamPages, seq, err)
	}
	var p record.Page
	if json.Unmarshal(m.Data, &p) != nil {
		return nil, nil
	}
	c.seq, c.page = seq, &p
	return &p, nil
}
