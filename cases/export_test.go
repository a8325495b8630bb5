package cases

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/adwatch/adwatch/indexer"
	"github.com/adwatch/adwatch/internal/bus/bustest"
	"github.com/adwatch/adwatch/internal/record"
)

func sum(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// jpegish is bytes a content sniffer takes for a JPEG.
func jpegish(n byte) []byte {
	return append([]byte{0xff, 0xd8, 0xff, 0xe0}, bytes.Repeat([]byte{n}, 100)...)
}

// TestExport exports a case of one profile (three ads, one of them with a
// photo that was never downloaded), one more ad and two ids the index does
// not hold, with one photo stored, one missing and one whose stored bytes
// are not the ones it was stored under.
func TestExport(t *testing.T) {
	ctx := t.Context()
	b := bustest.New(t)
	idx, err := indexer.Open(t.TempDir(), 8, 25, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idx.Close() })

	stored, missing, tampered := jpegish(1), jpegish(2), jpegish(3)
	if _, err := b.Images.PutBytes(ctx, sum(stored), stored); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Images.PutBytes(ctx, sum(tampered), jpegish(4)); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 2, 10, 20, 0, 0, 0, time.UTC)
	phone := []record.Phone{{E164: "+15108730123"}}
	ads := []record.Ad{
		{ID: "s:1", Site: "s", City: "Oakland", Title: "Sweet company", Poster: "Rosa", PostedAt: at, FetchedAt: at.Add(time.Hour),
			PageSHA256: "1", Phones: phone, URL: "https://example.test/1",
			Images: []record.Image{{URL: "https://example.test/1.jpg", SHA256: sum(stored)}}},
		{ID: "s:2", Site: "s", City: "San Jose", Title: "New in town", Poster: "Rosa", PostedAt: at.Add(48 * time.Hour), FetchedAt: at.Add(49 * time.Hour),
			PageSHA256: "2", Phones: phone,
			Images: []record.Image{{URL: "https://example.test/2.jpg", SHA256: sum(missing)}, {URL: "https://example.test/1b.jpg", SHA256: sum(stored)}}},
		{ID: "s:4", Site: "s", City: "Oakland", Title: "Relaxing", Poster: "Rosa", PostedAt: at.Add(24 * time.Hour),
			PageSHA256: "4", Phones: phone,
			Images: []record.Image{{URL: "https://example.test/4.jpg", Error: "HTTP 404"}}},
		{ID: "s:3", Site: "s", City: "Oakland", Title: "=HYPERLINK(\"https://evil.test\")", Poster: "Mia", PostedAt: at.Add(-time.Hour),
			PageSHA256: "3", Phones: []record.Phone{{E164: "+14085550123"}},
			Images: []record.Image{{URL: "https://example.test/3.jpg", SHA256: sum(tampered)}}},
	}
	if _, err := idx.Put(ads); err != nil {
		t.Fatal(err)
	}
	profile := idx.Linker.Profile("s:1")
	if profile == "" || idx.Linker.Profile("s:2") != profile || idx.Linker.Profile("s:4") != profile || idx.Linker.Profile("s:3") == profile {
		t.Fatalf("profiles: s:1 %s, s:2 %s, s:4 %s, s:3 %s; want the first three joined",
			profile, idx.Linker.Profile("s:2"), idx.Linker.Profile("s:4"), idx.Linker.Profile("s:3"))
	}

	s := newStore(t)
	const number = "OPD/2026.0042"
	if _, err := s.Create(ctx, number, "Oakland", "lee.k"); err != nil {
		t.Fatal(err)
	}
	for _, step := range []func() (Case, error){
		func() (Case, error) { return s.AddProfile(ctx, number, profile) },
		func() (Case, error) { return s.AddProfile(ctx, number, "Pnosuchprofile") },
		func() (Case, error) { return s.AddAd(ctx, number, "s:3") },
		func() (Case, error) { return s.AddAd(ctx, number, "s:1") },
		func() (Case, error) { return s.AddAd(ctx, number, "s:404") },
		func() (Case, error) { return s.AddNote(ctx, number, "lee.k", "the same phone in two cities") },
	} {
		if _, err := step(); err != nil {
			t.Fatal(err)
		}
	}
	c, err := s.Get(ctx, number)
	if err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.FixedZone("PST", -8*3600))
	m, err := Export(ctx, &out, c, &Local{Index: idx, Images: b.Images}, "lee.k", now)
	if err != nil {
		t.Fatal(err)
	}

	zr, err := zip.NewReader(bytes.NewReader(out.Bytes()), int64(out.Len()))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	var names []string
	for _, f := range zr.File {
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatalf("reading %s: %v", f.Name, err)
		}
		files[f.Name] = data
		names = append(names, f.Name)
	}
	if names[len(names)-1] != ManifestJSON {
		t.Errorf("last file %s, want %s", names[len(names)-1], ManifestJSON)
	}
	var written Manifest
	if err := json.Unmarshal(files[ManifestJSON], &written); err != nil {
		t.Fatal(err)
	}
	if written.Case != number || written.ExportedBy != "lee.k" || !written.ExportedAt.Equal(now) || written.ExportedAt.Location() != time.UTC {
		t.Errorf("manifest header: %q %q %v", written.Case, written.ExportedBy, written.ExportedAt)
	}
	if len(written.Files) != len(m.Files) {
		t.Errorf("manifest.json lists %d files, Export returned %d", len(written.Files), len(m.Files))
	}
	listed := map[string]bool{}
	for _, f := range written.Files {
		listed[f.Name] = true
		data, ok := files[f.Name]
		if !ok {
			t.Errorf("%s is in the manifest, not in the zip", f.Name)
			continue
		}
		if got := sum(data); got != f.SHA256 || int64(len(data)) != f.Size {
			t.Errorf("%s: SHA-256 %s, %d bytes; manifest says %s, %d", f.Name, got, len(data), f.SHA256, f.Size)
		}
	}
	for _, n := range names {
		if !listed[n] && n != ManifestJSON {
			t.Errorf("%s is in the zip, not in the manifest", n)
		}
	}

	// The images: one copied, one missing, one whose bytes are not its name.
	good, bad := ImagesDir+sum(stored)+".jpg", ImagesDir+sum(tampered)+".jpg"
	if !bytes.Equal(files[good], stored) {
		t.Errorf("%s missing or changed", good)
	}
	if !bytes.Equal(files[bad], jpegish(4)) {
		t.Errorf("%s: the stored bytes belong in the export, flagged", bad)
	}
	if len(written.MissingImages) != 1 || written.MissingImages[0].SHA256 != sum(missing) || !slices.Equal(written.MissingImages[0].Ads, []string{"s:2"}) {
		t.Errorf("missing images %+v, want %s of s:2", written.MissingImages, sum(missing))
	}
	if len(written.MismatchedImages) != 1 || written.MismatchedImages[0].SHA256 != sum(tampered) ||
		written.MismatchedImages[0].Actual != sum(jpegish(4)) || written.MismatchedImages[0].File != bad {
		t.Errorf("mismatched images %+v", written.MismatchedImages)
	}
	if !slices.Equal(written.MissingAds, []string{"s:404"}) || !slices.Equal(written.MissingProfiles, []string{"Pnosuchprofile"}) {
		t.Errorf("missing ads %v, profiles %v", written.MissingAds, written.MissingProfiles)
	}
	wantCounts := Counts{Ads: 4, Profiles: 1, Networks: 2, Phones: 2, Cities: 2, Images: 2, ImagesMissing: 1, ImagesMismatched: 1,
		ImagesNotDownloaded: 1, AdsMissing: 1, ProfilesMissing: 1, Notes: 1}
	if written.Counts != wantCounts {
		t.Errorf("counts %+v\nwant %+v", written.Counts, wantCounts)
	}

	// The CSV files parse and start with their headers.
	rows := func(name string, header []string) [][]string {
		t.Helper()
		recs, err := csv.NewReader(bytes.NewReader(files[name])).ReadAll()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(recs) == 0 || !slices.Equal(recs[0], header) {
			t.Fatalf("%s header %v, want %v", name, recs[:min(1, len(recs))], header)
		}
		return recs[1:]
	}
	adRows := rows(AdsCSV, AdsHeader)
	var order []string
	for _, r := range adRows {
		order = append(order, r[0]+" via "+r[len(r)-1])
	}
	if want := []string{"s:3 via case", "s:1 via case " + profile, "s:4 via " + profile, "s:2 via " + profile}; !slices.Equal(order, want) {
		t.Errorf("ads.csv: %q, want %q", order, want)
	}
	if adRows[0][4] != `'=HYPERLINK("https://evil.test")` {
		t.Errorf("a title that looks like a formula is written %q", adRows[0][4])
	}
	if adRows[1][7] != "2026-02-10T21:00:00Z" || adRows[1][8] != "+15108730123" || adRows[1][11] != profile {
		t.Errorf("ads.csv row of s:1: %q", adRows[1])
	}
	prows := rows(ProfilesCSV, ProfilesHeader)
	if len(prows) != 1 || prows[0][0] != profile || prows[0][3] != "3" || prows[0][5] != "Oakland; San Jose" ||
		prows[0][6] != "2026-02-10T20:00:00Z" || prows[0][7] != "2026-02-12T20:00:00Z" {
		t.Errorf("profiles.csv: %q", prows)
	}
	var statuses []string
	for _, r := range rows(ImagesCSV, ImagesHeader) {
		statuses = append(statuses, r[1]+" "+r[5])
	}
	if want := []string{"s:3 " + ImageMismatch, "s:1 ok", "s:4 not downloaded: HTTP 404", "s:2 missing", "s:2 ok"}; !slices.Equal(statuses, want) {
		t.Errorf("images.csv statuses %q, want %q", statuses, want)
	}

	var back Case
	if err := json.Unmarshal(files[CaseJSON], &back); err != nil || back.Number != number || len(back.Notes) != 1 {
		t.Errorf("case.json: %+v, %v", back, err)
	}
	var exported []ExportedAd
	if err := json.Unmarshal(files[AdsJSON], &exported); err != nil || len(exported) != 4 || exported[0].Title != ads[3].Title {
		t.Errorf("ads.json: %d ads, %v", len(exported), err)
	}
	if !strings.Contains(string(files[ProfilesJSON]), `"current": "`+profile+`"`) {
		t.Errorf("profiles.json: %s", files[ProfilesJSON])
	}
}

// TestExportWithoutImageStore lists every image as missing.
func TestExportWithoutImageStore(t *testing.T) {
	idx, err := indexer.Open(t.TempDir(), 8, 25, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idx.Close() })
	if _, err := idx.Put([]record.Ad{{ID: "s:1", PageSHA256: "1", Images: []record.Image{{SHA256: sum([]byte("x"))}, {SHA256: "../../etc/passwd"}}}}); err != nil {
		t.Fatal(err)
	}
	c := Case{Number: "1", Ads: []string{"s:1"}}
	var out bytes.Buffer
	m, err := Export(t.Context(), &out, c, &Local{Index: idx}, "lee.k", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if m.Counts.Images != 0 || len(m.MissingImages) != 2 || m.MissingImages[1].Reason != "not a SHA-256" {
		t.Errorf("counts %+v, missing %+v", m.Counts, m.MissingImages)
	}
	if _, err := Export(t.Context(), io.Discard, c, &Local{Index: idx}, "", time.Now()); err == nil {
		t.Error("an export by nobody: no error")
	}
}
