package evidence

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/adwatch/adwatch/internal/bus"
	"github.com/adwatch/adwatch/internal/bus/bustest"
	"github.com/adwatch/adwatch/internal/record"
)

var (
	at   = time.Date(2020, 10, 2, 18, 4, 5, 123456789, time.UTC)
	jpeg = []byte("\xff\xd8\xff\xe0 not really a jpeg")
)

func capture(u string, body []byte) *record.Capture {
	return &record.Capture{Method: "GET", RequestHeader: map[string][]string{"Host": {"ads.example"}, "User-Agent": {"adwatch"}, "Accept-Encoding": {"identity"}},
		URL: u, Proto: "HTTP/1.1", Status: 200, Reason: "OK", Header: map[string][]string{"Content-Type": {"text/html; charset=windows-1252"}, "Server": {"test"}},
		ServerIP: "203.0.113.7", At: at, SHA256: record.SHA256Hex(body), Size: int64(len(body))}
}

// fixture publishes three pages and their ads: one in Oakland with a
// recorded exchange, a windows-1252 body and an image; one in Fresno with
// an image that was never downloaded; one crawled before exchanges were
// recorded.
func fixture(t *testing.T) (Store, context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	b := bustest.New(t)
	if _, err := b.Images.PutBytes(ctx, record.SHA256Hex(jpeg), jpeg); err != nil {
		t.Fatal(err)
	}
	raw := []byte("<p>caf\xe9</p>")
	img := capture("https://img.example/a.jpg", jpeg)
	img.Header = map[string][]string{"Content-Type": {"image/jpeg"}}
	pages := []record.Page{
		{Site: "s", URL: "https://ads.example/ad/1", FetchedAt: at, HTML: []byte("<p>café</p>"), Raw: raw, Capture: capture("https://ads.example/ad/1", raw),
			Images: []record.ImageRef{{URL: "https://img.example/a.jpg", SHA256: record.SHA256Hex(jpeg), Size: int64(len(jpeg)), Capture: img}}},
		{Site: "s", URL: "https://ads.example/ad/2", FetchedAt: at, HTML: []byte("<p>two</p>"), Capture: capture("https://ads.example/ad/2", []byte("<p>two</p>")),
			Images: []record.ImageRef{{URL: "https://img.example/gone.jpg", Error: "status 404"}}},
		{Site: "s", URL: "https://ads.example/ad/3", FetchedAt: at, HTML: []byte("<p>old</p>")},
	}
	cities := []string{"Oakland", "Fresno", "Oakland"}
	posted := []time.Time{at, at, at.AddDate(0, -1, 0)}
	for i := range pages {
		p := &pages[i]
		p.SHA256 = record.SHA256Hex(p.HTML)
		publish(t, ctx, b.JS, bus.SubjectPages+".s", p)
		publish(t, ctx, b.JS, bus.SubjectAds+".s", &record.Ad{ID: "s:" + string(rune('1'+i)), Site: "s", URL: p.URL, City: cities[i], PostedAt: posted[i], PageSHA256: p.SHA256})
	}
	return Store{JS: b.JS, Images: b.Images}, ctx
}

func publish(t *testing.T, ctx context.Context, js jetstream.JetStream, subject string, v any) {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, subject, data); err != nil {
		t.Fatal(err)
	}
}

func export(t *testing.T, ctx context.Context, st Store, sel Selection, compress bool) ([]byte, Stats) {
	t.Helper()
	var buf bytes.Buffer
	calls := 0
	stats, err := Export(ctx, st, sel, Info{Software: "adwatch test", ExportedBy: "tester", At: at, Filename: "x.warc"}, NewWriter(&buf, compress), func(Stats) { calls++ })
	if err != nil {
		t.Fatalf("export %+v: %v", sel, err)
	}
	if calls != stats.Pages {
		t.Errorf("progress called %d times for %d pages", calls, stats.Pages)
	}
	return buf.Bytes(), stats
}

func readAll(t *testing.T, data []byte) []*Record {
	t.Helper()
	br, err := NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var out []*Record
	for {
		r, err := ReadRecord(br)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("record %d: %v", len(out)+1, err)
		}
		out = append(out, r)
	}
}

func TestExportSelects(t *testing.T) {
	st, ctx := fixture(t)
	for _, tc := range []struct {
		name  string
		sel   Selection
		pages int
		ads   int
		types string
	}{
		{"all", Selection{All: true}, 3, 3, "warcinfo request response metadata request response metadata request response metadata resource metadata"},
		{"city", Selection{City: "oakland"}, 2, 2, "warcinfo request response metadata request response metadata resource metadata"},
		{"window", Selection{Since: at.Add(-time.Hour), Until: at.Add(time.Hour)}, 2, 2, "warcinfo request response metadata request response metadata request response metadata"},
		{"city and window", Selection{City: "Oakland", Since: at.Add(-time.Hour)}, 1, 1, "warcinfo request response metadata request response metadata"},
		{"ads", Selection{AdIDs: []string{"s:2", "s:3"}}, 2, 2, "warcinfo request response metadata resource metadata"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, stats := export(t, ctx, st, tc.sel, false)
			if stats.Pages != tc.pages || stats.Ads != tc.ads {
				t.Errorf("stats %+v, want %d pages of %d ads", stats, tc.pages, tc.ads)
			}
			records := readAll(t, data)
			var types []string
			for _, r := range records {
				types = append(types, r.Get(FieldType))
			}
			if got := strings.Join(types, " "); got != tc.types {
				t.Errorf("records:\n got %s\nwant %s", got, tc.types)
			}
			if len(records) != stats.Records {
				t.Errorf("%d records read, %d written", len(records), stats.Records)
			}
		})
	}
	_, err := Export(ctx, st, Selection{City: "Nowhere"}, Info{At: at}, NewWriter(io.Discard, false), nil)
	if !errors.Is(err, ErrNothingSelected) {
		t.Errorf("export of a city without ads: %v, want ErrNothingSelected", err)
	}
}

// TestExportRecords checks the layout: the fields a court and an
// archivist's tool read, and digests that hold.
func TestExportRecords(t *testing.T) {
	st, ctx := fixture(t)
	data, _ := export(t, ctx, st, Selection{City: "Oakland", Describe: "--city Oakland"}, false)
	records := readAll(t, data)
	info := records[0]
	for _, want := range []string{"software: adwatch test", "exported-by: tester", "selection: --city Oakland"} {
		if !strings.Contains(string(info.Block), want+"\r\n") {
			t.Errorf("warcinfo lacks %q:\n%s", want, info.Block)
		}
	}
	ids := map[string]*Record{}
	for _, r := range records {
		ids[r.Get(FieldRecordID)] = r
		for _, f := range []string{FieldRecordID, FieldDate, FieldBlockDigest, FieldPayloadDigest, FieldContentLength, FieldContentType} {
			if r.Get(f) == "" {
				t.Errorf("%s record lacks %s", r.Get(FieldType), f)
			}
		}
		for _, d := range []struct {
			field string
			data  []byte
		}{{FieldBlockDigest, r.Block}, {FieldPayloadDigest, Payload(r.Get(FieldContentType), r.Block)}} {
			if ok, err := CheckDigest(r.Get(d.field), d.data); !ok || err != nil {
				t.Errorf("%s %s: %s does not hold (%v)", r.Get(FieldType), r.Get(FieldRecordID), d.field, err)
			}
		}
	}
	resp := records[2]
	wantResp := "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=windows-1252\r\nServer: test\r\n\r\n<p>caf\xe9</p>"
	if string(resp.Block) != wantResp {
		t.Errorf("response block:\n%q\nwant\n%q", resp.Block, wantResp)
	}
	if got := resp.Get(FieldPayloadDigest); got != Digest([]byte("<p>caf\xe9</p>")) {
		t.Errorf("payload digest %s is not the body's", got)
	}
	if resp.Get(FieldDate) != "2020-10-02T18:04:05Z" || resp.Get(FieldIPAddress) != "203.0.113.7" || resp.Get(FieldTargetURI) != "https://ads.example/ad/1" {
		t.Errorf("response fields %v", resp.Fields)
	}
	req := records[1]
	if !strings.HasPrefix(string(req.Block), "GET /ad/1 HTTP/1.1\r\nHost: ads.example\r\nAccept-Encoding: identity\r\n") {
		t.Errorf("request block %q", req.Block)
	}
	meta := records[3]
	for _, want := range []string{"ad-id: s:1", "city: Oakland", "server-ip: 203.0.113.7", "page-sha256: " + record.SHA256Hex([]byte("<p>café</p>")), "stream-seq: 1", "fetched-at: 2020-10-02T18:04:05.123456789Z"} {
		if !strings.Contains(string(meta.Block), want+"\r\n") {
			t.Errorf("metadata lacks %q:\n%s", want, meta.Block)
		}
	}
	// The three records of a capture name each other.
	for _, r := range records[1:4] {
		for _, id := range r.Values(FieldConcurrentTo) {
			if ids[id] == nil {
				t.Errorf("%s names %s, not in the file", r.Get(FieldType), id)
			}
		}
		if len(r.Values(FieldConcurrentTo)) == 0 {
			t.Errorf("%s names no concurrent record", r.Get(FieldType))
		}
	}
	if img := records[5]; img.Get(FieldType) != "response" || !bytes.HasSuffix(img.Block, jpeg) || img.Get(FieldCapture) != "page 1 image 0" {
		t.Errorf("image response: %v %q", img.Fields, img.Block)
	}
}

func verify(t *testing.T, ctx context.Context, st Store, data []byte) Report {
	t.Helper()
	br, err := NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(ctx, st, br)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestVerify(t *testing.T) {
	st, ctx := fixture(t)
	for _, compress := range []bool{false, true} {
		data, stats := export(t, ctx, st, Selection{All: true}, compress)
		if compress != (data[0] == 0x1f) {
			t.Fatalf("compress %v, file starts %x", compress, data[:2])
		}
		rep := verify(t, ctx, st, data)
		if rep.Records != stats.Records || rep.Verified != stats.Records || len(rep.Problems) > 0 {
			t.Errorf("compress %v: %+v, want all %d records verified", compress, rep, stats.Records)
		}
		if rep.Compared != 7 { // 3 pages: 2 request+response, 1 resource; 1 image request+response
			t.Errorf("compress %v: %d records compared with the store, want 7", compress, rep.Compared)
		}
	}
	if data, _ := export(t, ctx, st, Selection{All: true}, true); gzipMembers(t, data) != 12 {
		t.Errorf("%d gzip members, want one per record (12)", gzipMembers(t, data))
	}
}

func gzipMembers(t *testing.T, data []byte) int {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(bytes.NewReader(data))
	_ = zr.Reset(br)
	n := 0
	for {
		zr.Multistream(false)
		if _, err := io.Copy(io.Discard, zr); err != nil {
			t.Fatal(err)
		}
		n++
		if err := zr.Reset(br); err == io.EOF {
			return n
		} else if err != nil {
			t.Fatal(err)
		}
	}
}

// TestVerifyNamesTheChangedRecord flips one byte of each kind of record
// and finds it named.
func TestVerifyNamesTheChangedRecord(t *testing.T) {
	st, ctx := fixture(t)
	data, _ := export(t, ctx, st, Selection{All: true}, false)
	records := readAll(t, data)
	for _, tc := range []struct {
		name  string
		index int
		// at finds the byte to flip in the record's block.
		at func(block []byte) int
		// redigest recomputes the digests after the change, as a forger would.
		redigest bool
		what     string
	}{
		{"page body", 2, func(b []byte) int { return bytes.Index(b, []byte("caf")) }, false, "WARC-Block-Digest does not match"},
		{"page body, digests recomputed", 2, func(b []byte) int { return bytes.Index(b, []byte("caf")) }, true, "the body differs from the stored capture (page 1)"},
		{"page header, digests recomputed", 2, func(b []byte) int { return bytes.Index(b, []byte("test")) }, true, "the block differs from the stored capture (page 1)"},
		{"image body", 5, func(b []byte) int { return len(b) - 1 }, false, "WARC-Payload-Digest does not match"},
		{"resource", 10, func(b []byte) int { return 3 }, true, "the body differs from the stored capture (page 3)"},
		{"metadata", 3, func(b []byte) int { return 0 }, false, "WARC-Block-Digest does not match"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := records[tc.index]
			block := bytes.Clone(r.Block)
			block[tc.at(block)] ^= 0x01
			changed := &Record{Fields: r.Fields, Block: block}
			if tc.redigest {
				changed = &Record{Fields: append([]Field(nil), r.Fields...), Block: block}
				changed.SetDigests()
			}
			var buf bytes.Buffer
			w := NewWriter(&buf, false)
			for i, rec := range records {
				if i == tc.index {
					rec = changed
				}
				if err := w.Write(rec); err != nil {
					t.Fatal(err)
				}
			}
			rep := verify(t, ctx, st, buf.Bytes())
			if len(rep.Problems) != 1 {
				t.Fatalf("problems %+v, want one", rep.Problems)
			}
			p := rep.Problems[0]
			if p.Record != r.Get(FieldRecordID) || p.URI != r.Get(FieldTargetURI) || !strings.Contains(p.What, tc.what) {
				t.Errorf("problem %+v, want record %s (%s): %q", p, r.Get(FieldRecordID), r.Get(FieldTargetURI), tc.what)
			}
			if rep.Verified != len(records)-1 {
				t.Errorf("verified %d of %d", rep.Verified, len(records))
			}
		})
	}
}

// TestVerifyStoredCaptureChanged: an export verifies only while the
// stored captures are the same; an image rewritten in the store is named.
func TestVerifyStoredCaptureChanged(t *testing.T) {
	st, ctx := fixture(t)
	data, _ := export(t, ctx, st, Selection{All: true}, true)
	if _, err := st.Images.PutBytes(ctx, record.SHA256Hex(jpeg), []byte("\xff\xd8\xff\xe0 another")); err != nil {
		t.Fatal(err)
	}
	rep := verify(t, ctx, st, data)
	if len(rep.Problems) != 2 { // the image's request and response
		t.Fatalf("problems %+v, want the image's two records", rep.Problems)
	}
	for _, p := range rep.Problems {
		if p.URI != "https://img.example/a.jpg" || !strings.Contains(p.What, "no longer hashes") {
			t.Errorf("problem %+v", p)
		}
	}
}

func TestReadRecordErrors(t *testing.T) {
	good := "WARC/1.1\r\nWARC-Type: resource\r\nContent-Length: 2\r\n\r\nhi\r\n\r\n"
	for _, tc := range []struct {
		name, in string
		want     error
	}{
		{"empty", "", io.EOF},
		{"good", good, nil},
		{"not warc", "HTTP/1.1 200 OK\r\n\r\n", ErrFormat},
		{"no length", "WARC/1.1\r\nWARC-Type: resource\r\n\r\n\r\n\r\n", ErrFormat},
		{"negative length", "WARC/1.1\r\nContent-Length: -1\r\n\r\n\r\n\r\n", ErrFormat},
		{"huge length", "WARC/1.1\r\nContent-Length: 99999999999\r\n\r\n", ErrFormat},
		{"cut block", "WARC/1.1\r\nContent-Length: 20\r\n\r\nhi", ErrFormat},
		{"no end", "WARC/1.1\r\nContent-Length: 2\r\n\r\nhiXXXX", ErrFormat},
		{"bad field", "WARC/1.1\r\nno colon\r\n\r\n", ErrFormat},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadRecord(bufio.NewReader(strings.NewReader(tc.in)))
			if !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
				t.Errorf("ReadRecord(%q) = %v, want %v", tc.in, err, tc.want)
			}
		})
	}
}

// FuzzReadRecord: any input reads as records or an error, never a panic,
// and a record read writes back to the same record.
func FuzzReadRecord(f *testing.F) {
	f.Add([]byte("WARC/1.1\r\nWARC-Type: resource\r\nContent-Length: 2\r\n\r\nhi\r\n\r\n"))
	f.Add([]byte("WARC/1.0\r\nContent-Length: 0\r\n \r\n continued\r\n\r\n\r\n\r\nWARC/1.1\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReader(bytes.NewReader(data))
		for range 16 {
			r, err := ReadRecord(br)
			if err != nil {
				return
			}
			var buf bytes.Buffer
			if err := NewWriter(&buf, false).Write(r); err != nil {
				t.Fatal(err)
			}
			again, err := ReadRecord(bufio.NewReader(&buf))
			if err != nil {
				t.Fatalf("a record read does not read back once written: %v", err)
			}
			if !bytes.Equal(again.Block, r.Block) || len(again.Fields) != len(r.Fields) {
				t.Fatalf("read back %+v, want %+v", again, r)
			}
		}
	})
}
