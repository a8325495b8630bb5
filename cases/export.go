package cases

import (
	"archive/zip"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/adwatch/adwatch/report"
)

// Names of the files of an export, in the order they are written; the
// images come between ProfilesJSON and ImagesCSV as ImagesDir/<sha256>.<ext>.
const (
	CaseJSON     = "case.json"
	AdsCSV       = "ads.csv"
	AdsJSON      = "ads.json"
	ProfilesCSV  = "profiles.csv"
	ProfilesJSON = "profiles.json"
	ImagesDir    = "images/"
	ImagesCSV    = "images.csv"
	ManifestJSON = "manifest.json"
)

// MaxImageBytes bounds one image read for an export; a larger one is
// listed as missing.
const MaxImageBytes = 64 << 20

// Header rows of the CSV files.
var (
	AdsHeader      = []string{"id", "site", "city", "url", "title", "poster", "posted", "captured", "phones", "handles", "ages", "profile", "network", "page_sha256", "images", "via"}
	ProfilesHeader = []string{"profile", "current", "network", "ads", "phones", "cities", "first_posted", "last_posted"}
	ImagesHeader   = []string{"sha256", "ad", "source_url", "captured", "file", "status"}
)

// Statuses of an image in images.csv.
const (
	ImageOK            = "ok"
	ImageMissing       = "missing"
	ImageMismatch      = "sha256 mismatch"
	ImageNotDownloaded = "not downloaded"
)

// ExportedAd is one ad of an export: the ad as report exports it and
// Via, why it is in the case: "case" when the case names the ad, and the
// ids of the case's profiles it belongs to.
type ExportedAd struct {
	report.ExportedAd
	Via []string `json:"via"`
}

// ProfileSummary is one profile of a case as exported (profiles.json).
type ProfileSummary struct {
	// ID is the profile id as the case holds it; Current is its id now,
	// different when the profile has since been merged into another.
	ID      string    `json:"id"`
	Current string    `json:"current"`
	Network string    `json:"network"`
	Ads     int       `json:"ads"`
	AdIDs   []string  `json:"ad_ids"`
	Phones  []string  `json:"phones"`
	Cities  []string  `json:"cities"`
	First   time.Time `json:"first_posted"`
	Last    time.Time `json:"last_posted"`
}

// File is one file of an export with its SHA-256 (lowercase hex) and size
// in bytes.
type File struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// MissingImage is an image of the exported ads that is not in the export.
type MissingImage struct {
	SHA256 string   `json:"sha256"`
	Ads    []string `json:"ads"`
	Reason string   `json:"reason"`
}

// MismatchedImage is an image whose stored bytes do not hash to the
// SHA-256 they are stored under. The bytes are in the export as File.
type MismatchedImage struct {
	SHA256 string   `json:"sha256"`
	Actual string   `json:"actual_sha256"`
	File   string   `json:"file"`
	Ads    []string `json:"ads"`
}

// Counts are what an export holds, as adwatch counts it.
type Counts struct {
	// Ads are the ads exported; Profiles the case's profiles found in the
	// index. Networks, Phones and Cities are distinct among the ads.
	Ads      int `json:"ads"`
	Profiles int `json:"profiles"`
	Networks int `json:"networks"`
	Phones   int `json:"phones"`
	Cities   int `json:"cities"`
	// Images are the image files in the export; ImagesMissing the images
	// the store could not give, ImagesMismatched the files whose bytes do
	// not hash to their name, ImagesNotDownloaded the images the crawler
	// never stored (they have no SHA-256).
	Images              int `json:"images"`
	ImagesMissing       int `json:"images_missing"`
	ImagesMismatched    int `json:"images_mismatched"`
	ImagesNotDownloaded int `json:"images_not_downloaded"`
	// AdsMissing and ProfilesMissing are the ads and profiles the case
	// names that the index does not hold.
	AdsMissing      int `json:"ads_missing"`
	ProfilesMissing int `json:"profiles_missing"`
	Notes           int `json:"notes"`
	Searches        int `json:"searches"`
}

// Manifest describes an export: what case, who exported it and when, and
// every other file of the zip with its SHA-256 and size. It is the last
// file of the zip (manifest.json).
type Manifest struct {
	Case       string    `json:"case"`
	Title      string    `json:"title"`
	ExportedBy string    `json:"exported_by"`
	ExportedAt time.Time `json:"exported_at"`
	Counts     Counts    `json:"counts"`
	Files      []File    `json:"files"`
	// MissingAds and MissingProfiles are the ids the case names that the
	// index does not hold.
	MissingAds       []string          `json:"missing_ads"`
	MissingProfiles  []string          `json:"missing_profiles"`
	MissingImages    []MissingImage    `json:"missing_images"`
	MismatchedImages []MismatchedImage `json:"mismatched_images"`
}

// Export writes one zip of case c to w: the case, its ads and profiles, the
// ads' images from src, and last the manifest, which it also returns.
// exportedBy names who exports; now is the export time (stored in UTC).
// An image src does not hold, or whose bytes do not hash to its SHA-256,
// is listed in the manifest; any other error of src ends the export.
func Export(ctx context.Context, w io.Writer, c Case, src Source, exportedBy string, now time.Time) (Manifest, error) {
	exportedBy, err := checkID("exporter", exportedBy)
	if err != nil {
		return Manifest{}, err
	}
	c.normalize()
	now = now.UTC()
	m := Manifest{
		Case: c.Number, Title: c.Title, ExportedBy: exportedBy, ExportedAt: now,
		Files: []File{}, MissingAds: []string{}, MissingProfiles: []string{},
		MissingImages: []MissingImage{}, MismatchedImages: []MismatchedImage{},
	}
	ads, profiles, err := gather(ctx, c, src, &m)
	if err != nil {
		return Manifest{}, err
	}
	m.Counts = count(c, ads, profiles, m)

	e := &exporter{z: zip.NewWriter(w), now: now, m: &m}
	steps := []struct {
		name  string
		write func(io.Writer) error
	}{
		{CaseJSON, jsonOf(c)},
		{AdsCSV, func(w io.Writer) error { return adsCSV(w, ads) }},
		{AdsJSON, jsonOf(ads)},
		{ProfilesCSV, func(w io.Writer) error { return profilesCSV(w, profiles) }},
		{ProfilesJSON, jsonOf(profiles)},
	}
	for _, s := range steps {
		if err := e.add(s.name, zip.Deflate, s.write); err != nil {
			return Manifest{}, err
		}
	}
	rows, err := e.images(ctx, src, ads)
	if err != nil {
		return Manifest{}, err
	}
	if err := e.add(ImagesCSV, zip.Deflate, func(w io.Writer) error { return writeCSV(w, ImagesHeader, rows) }); err != nil {
		return Manifest{}, err
	}
	// The manifest lists every file but itself.
	final := m
	if err := e.add(ManifestJSON, zip.Deflate, jsonOf(final)); err != nil {
		return Manifest{}, err
	}
	if err := e.z.Close(); err != nil {
		return Manifest{}, fmt.Errorf("finishing the zip of case %s: %w", c.Number, err)
	}
	return final, nil
}

// gather reads the case's ads and its profiles' ads from src, each ad
// once, in posted order, and the profiles' summaries in the case's order.
// It records in m what the index does not hold.
func gather(ctx context.Context, c Case, src Source, m *Manifest) ([]ExportedAd, []ProfileSummary, error) {
	byID := map[string]*ExportedAd{}
	add := func(a report.ExportedAd, via string) {
		x, ok := byID[a.ID]
		if !ok {
			x = &ExportedAd{ExportedAd: a}
			byID[a.ID] = x
		}
		if !slices.Contains(x.Via, via) {
			x.Via = append(x.Via, via)
		}
	}
	for _, id := range c.Ads {
		a, ok, err := src.Ad(ctx, id)
		if err != nil {
			return nil, nil, fmt.Errorf("reading ad %s of case %s: %w", id, c.Number, err)
		}
		if !ok {
			m.MissingAds = append(m.MissingAds, id)
			continue
		}
		add(a, "case")
	}
	profiles := []ProfileSummary{}
	for _, id := range c.Profiles {
		pads, err := src.AdsOfProfile(ctx, id)
		if err != nil {
			return nil, nil, fmt.Errorf("reading profile %s of case %s: %w", id, c.Number, err)
		}
		if len(pads) == 0 {
			m.MissingProfiles = append(m.MissingProfiles, id)
			continue
		}
		for _, a := range pads {
			add(a, id)
		}
		profiles = append(profiles, summarize(id, pads))
	}
	ads := make([]ExportedAd, 0, len(byID))
	for _, a := range byID {
		ads = append(ads, *a)
	}
	slices.SortFunc(ads, func(a, b ExportedAd) int {
		return cmp.Or(a.PostedAt.Compare(b.PostedAt), strings.Compare(a.ID, b.ID))
	})
	return ads, profiles, nil
}

// summarize sums up the ads of one profile.
func summarize(id string, ads []report.ExportedAd) ProfileSummary {
	p := ProfileSummary{ID: id, Current: ads[0].Profile, Network: ads[0].Network, Ads: len(ads), AdIDs: []string{}}
	phones, cities := map[string]bool{}, map[string]bool{}
	for _, a := range ads {
		p.AdIDs = append(p.AdIDs, a.ID)
		for _, ph := range a.PhoneNumbers {
			phones[ph] = true
		}
		if a.City != "" {
			cities[a.City] = true
		}
		if a.PostedAt.IsZero() {
			continue
		}
		if p.First.IsZero() || a.PostedAt.Before(p.First) {
			p.First = a.PostedAt
		}
		if a.PostedAt.After(p.Last) {
			p.Last = a.PostedAt
		}
	}
	p.Phones, p.Cities = sortedSet(phones), sortedSet(cities)
	return p
}

// sortedSet returns the keys of a set in order, never nil.
func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// count computes the manifest's counts, but for the images (counted as
// they are copied).
func count(c Case, ads []ExportedAd, profiles []ProfileSummary, m Manifest) Counts {
	networks, phones, cities := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, a := range ads {
		if a.Network != "" {
			networks[a.Network] = true
		}
		for _, p := range a.PhoneNumbers {
			phones[p] = true
		}
		if a.City != "" {
			cities[a.City] = true
		}
	}
	return Counts{
		Ads: len(ads), Profiles: len(profiles), Networks: len(networks), Phones: len(phones), Cities: len(cities),
		AdsMissing: len(m.MissingAds), ProfilesMissing: len(m.MissingProfiles), Notes: len(c.Notes), Searches: len(c.Searches),
	}
}

// exporter writes the files of one zip and records them in the manifest.
type exporter struct {
	z   *zip.Writer
	now time.Time
	m   *Manifest
}

// add writes one file with the given compression method.
func (e *exporter) add(name string, method uint16, write func(io.Writer) error) error {
	fw, err := e.z.CreateHeader(&zip.FileHeader{Name: name, Method: method, Modified: e.now})
	if err != nil {
		return fmt.Errorf("adding %s to the zip: %w", name, err)
	}
	h := &hashCounter{h: sha256.New()}
	if err := write(io.MultiWriter(fw, h)); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	e.m.Files = append(e.m.Files, File{Name: name, SHA256: hex.EncodeToString(h.h.Sum(nil)), Size: h.n})
	return nil
}

// hashCounter hashes and counts what is written to it.
type hashCounter struct {
	h hash.Hash
	n int64
}

func (h *hashCounter) Write(p []byte) (int, error) {
	h.n += int64(len(p))
	return h.h.Write(p)
}

// images copies every image of ads from src into the zip, each once, and
// returns the rows of images.csv: one per image of each ad.
func (e *exporter) images(ctx context.Context, src Source, ads []ExportedAd) ([][]string, error) {
	// The ads of each image, and the images in first-seen order.
	adsOf := map[string][]string{}
	var order []string
	notDownloaded := 0
	for _, a := range ads {
		for _, img := range a.Images {
			if img.SHA256 == "" {
				notDownloaded++
				continue
			}
			if _, ok := adsOf[img.SHA256]; !ok {
				order = append(order, img.SHA256)
			}
			if !slices.Contains(adsOf[img.SHA256], a.ID) {
				adsOf[img.SHA256] = append(adsOf[img.SHA256], a.ID)
			}
		}
	}
	status, file := map[string]string{}, map[string]string{}
	for _, sha := range order {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("exporting the images of case %s: %w", e.m.Case, err)
		}
		if !isSHA256(sha) {
			// Never a file name of the zip: it could be a path.
			e.m.MissingImages = append(e.m.MissingImages, MissingImage{SHA256: sha, Ads: adsOf[sha], Reason: "not a SHA-256"})
			status[sha] = ImageMissing
			continue
		}
		data, reason, err := readImage(ctx, src, sha)
		if err != nil {
			return nil, err
		}
		if reason != "" {
			e.m.MissingImages = append(e.m.MissingImages, MissingImage{SHA256: sha, Ads: adsOf[sha], Reason: reason})
			status[sha] = ImageMissing
			continue
		}
		name := ImagesDir + sha + "." + extension(data)
		if err := e.add(name, zip.Store, func(w io.Writer) error { _, err := w.Write(data); return err }); err != nil {
			return nil, err
		}
		file[sha], status[sha] = name, ImageOK
		e.m.Counts.Images++
		if got := e.m.Files[len(e.m.Files)-1].SHA256; got != sha {
			e.m.MismatchedImages = append(e.m.MismatchedImages, MismatchedImage{SHA256: sha, Actual: got, File: name, Ads: adsOf[sha]})
			status[sha] = ImageMismatch
		}
	}
	e.m.Counts.ImagesMissing = len(e.m.MissingImages)
	e.m.Counts.ImagesMismatched = len(e.m.MismatchedImages)
	e.m.Counts.ImagesNotDownloaded = notDownloaded

	var rows [][]string
	for _, a := range ads {
		for _, img := range a.Images {
			st := status[img.SHA256]
			if img.SHA256 == "" {
				st = ImageNotDownloaded
				if img.Error != "" {
					st += ": " + img.Error
				}
			}
			rows = append(rows, []string{img.SHA256, a.ID, cell(img.URL), timeCell(a.FetchedAt), file[img.SHA256], cell(st)})
		}
	}
	return rows, nil
}

// readImage reads one image from src. It returns why the image is missing
// ("" when it is not), or an error that ends the export.
func readImage(ctx context.Context, src Source, sha string) ([]byte, string, error) {
	r, err := src.Image(ctx, sha)
	if errors.Is(err, ErrNoImage) {
		return nil, "not in the image store", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("reading image %s: %w", sha, err)
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, MaxImageBytes+1))
	if err != nil {
		if ctx.Err() != nil {
			return nil, "", fmt.Errorf("reading image %s: %w", sha, ctx.Err())
		}
		// The store could not give the bytes whole (the object store
		// checks its own digest): evidence we cannot vouch for.
		return nil, "unreadable: " + err.Error(), nil
	}
	if len(data) > MaxImageBytes {
		return nil, fmt.Sprintf("over %d bytes", MaxImageBytes), nil
	}
	return data, "", nil
}

// isSHA256 reports whether s is a SHA-256 in lowercase hex.
func isSHA256(s string) bool {
	return len(s) == 64 && strings.Trim(s, "0123456789abcdef") == ""
}

// extension names the kind of image data holds: "bin" for what is not a
// known image (the store holds whatever a site served).
func extension(data []byte) string {
	switch http.DetectContentType(data) {
	case "image/jpeg":
		return "jpg"
	case "image/png":
		return "png"
	case "image/gif":
		return "gif"
	case "image/webp":
		return "webp"
	case "image/bmp":
		return "bmp"
	case "image/x-icon":
		return "ico"
	}
	return "bin"
}

// jsonOf writes v as indented JSON.
func jsonOf(v any) func(io.Writer) error {
	return func(w io.Writer) error {
		data, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		_, err = w.Write(append(data, '\n'))
		return err
	}
}

// adsCSV writes ads.csv.
func adsCSV(w io.Writer, ads []ExportedAd) error {
	rows := make([][]string, 0, len(ads))
	for _, a := range ads {
		ages := make([]string, 0, len(a.Ages))
		for _, n := range a.Ages {
			ages = append(ages, strconv.Itoa(n))
		}
		handles := make([]string, 0, len(a.Handles))
		for _, h := range a.Handles {
			handles = append(handles, cell(h))
		}
		rows = append(rows, []string{
			a.ID, a.Site, cell(a.City), cell(a.URL), cell(a.Title), cell(a.Poster), timeCell(a.PostedAt), timeCell(a.FetchedAt),
			strings.Join(a.PhoneNumbers, " "), strings.Join(handles, " "), strings.Join(ages, " "),
			a.Profile, a.Network, a.PageSHA256, strconv.Itoa(len(a.Images)), strings.Join(a.Via, " "),
		})
	}
	return writeCSV(w, AdsHeader, rows)
}

// profilesCSV writes profiles.csv.
func profilesCSV(w io.Writer, profiles []ProfileSummary) error {
	rows := make([][]string, 0, len(profiles))
	for _, p := range profiles {
		cities := make([]string, 0, len(p.Cities))
		for _, c := range p.Cities {
			cities = append(cities, cell(c))
		}
		rows = append(rows, []string{
			p.ID, p.Current, p.Network, strconv.Itoa(p.Ads), strings.Join(p.Phones, " "), strings.Join(cities, "; "),
			timeCell(p.First), timeCell(p.Last),
		})
	}
	return writeCSV(w, ProfilesHeader, rows)
}

// writeCSV writes a header and rows.
func writeCSV(w io.Writer, header []string, rows [][]string) error {
	var b bytes.Buffer
	cw := csv.NewWriter(&b)
	_ = cw.Write(header)
	_ = cw.WriteAll(rows)
	if err := cw.Error(); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}

// cell makes text from a site safe for a spreadsheet: a leading '=', '+',
// '-', '@', tab or carriage return would start a formula, so the cell gets
// a leading apostrophe (the JSON files keep the text exactly).
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// timeCell writes a time in RFC 3339, UTC; "" for none.
func timeCell(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
