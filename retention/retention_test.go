package retention

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/adwatch/adwatch/audit"
	"github.com/adwatch/adwatch/cases"
	"github.com/adwatch/adwatch/indexer"
	"github.com/adwatch/adwatch/internal/bus"
	"github.com/adwatch/adwatch/internal/bus/bustest"
	"github.com/adwatch/adwatch/internal/record"
)

// world is a small store of ads in every state a purge meets.
type world struct {
	b   *bus.Bus
	idx *indexer.Index
	p   *Purger
	now time.Time
}

const (
	shaShared = "aaaa000000000000000000000000000000000000000000000000000000000001"
	shaOwn    = "bbbb000000000000000000000000000000000000000000000000000000000002"
	shaEarly  = "cccc000000000000000000000000000000000000000000000000000000000003"
)

func setup(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	b := bustest.New(t)
	idx, err := indexer.Open(t.TempDir(), 8, 25, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idx.Close() })
	// The purge runs 31 days from now with a 30-day period: everything
	// published now is past it unless captured "later" (FetchedAt ahead).
	real := time.Now().UTC()
	old, recent := real.Add(-time.Hour), real.Add(48*time.Hour)
	ad := func(id, poster string, at time.Time, images ...string) record.Ad {
		a := record.Ad{ID: "s:" + id, Site: "s", URL: "https://s.example/ad/" + id, City: "Oakland", Title: id, Poster: poster,
			PostedAt: at, FetchedAt: at, PageSHA256: "p" + id, Phones: []record.Phone{{E164: "+1510873" + id}}}
		for _, sha := range images {
			a.Images = append(a.Images, record.Image{SHA256: sha})
		}
		return a
	}
	earlier := ad("1000", "Ana", old.Add(-time.Hour), shaEarly) // an earlier capture of s:1001
	ads := []record.Ad{
		ad("1001", "Ana", old, shaShared),    // purged; its image still shown by s:2001
		ad("1002", "Bea", old, shaOwn),       // purged with its image
		ad("1003", "Cam", old),               // kept: open alert on its profile
		ad("1004", "Dee", old),               // kept: in a case
		ad("1005", "Eve", old),               // purged: its alert was dismissed
		ad("1006", "Fay", old),               // purged; its profile goes on under s:2002
		ad("2001", "Gia", recent, shaShared), // recent
		ad("2002", "Fay", recent),            // recent, Fay's profile with s:1006
	}
	earlier.ID, earlier.URL = ads[0].ID, ads[0].URL
	ads[5].Handles = []string{"instagram:fay.example"}
	ads[7].Handles = []string{"instagram:fay.example"}
	for _, a := range append([]record.Ad{earlier}, ads...) {
		data, _ := json.Marshal(a)
		if _, err := b.JS.Publish(ctx, bus.SubjectAds+"."+a.Site, data); err != nil {
			t.Fatal(err)
		}
		page, _ := json.Marshal(record.Page{Site: a.Site, URL: a.URL, HTML: []byte("<p>" + a.Title)})
		if _, err := b.JS.Publish(ctx, bus.SubjectPages+"."+a.Site, page); err != nil {
			t.Fatal(err)
		}
		if _, err := b.PageSums.Put(ctx, record.SHA256Hex([]byte(a.URL))[:40], []byte(a.PageSHA256)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := idx.Put(ads); err != nil {
		t.Fatal(err)
	}
	for _, sha := range []string{shaShared, shaOwn, shaEarly} {
		if _, err := b.Images.PutBytes(ctx, sha, []byte("image "+sha)); err != nil {
			t.Fatal(err)
		}
		if _, err := b.ImageHashes.Put(ctx, sha, []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	for _, al := range []record.Alert{
		{Key: "minor.cam", Rule: "possible_minor", Entity: "profile:" + idx.Linker.Profile("s:1003"), Status: record.StatusNew},
		{Key: "minor.eve", Rule: "possible_minor", Entity: "profile:" + idx.Linker.Profile("s:1005"),
			Profiles: []string{idx.Linker.Profile("s:1005")}, Status: record.StatusDismissed},
	} {
		data, _ := json.Marshal(al)
		if _, err := b.Alerts.Put(ctx, al.Key, data); err != nil {
			t.Fatal(err)
		}
	}
	cs, err := cases.Open(ctx, b.JS, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.Create(ctx, "HT-2020-0042", "Dee", "ines"); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.AddProfile(ctx, "HT-2020-0042", idx.Linker.Profile("s:1004")); err != nil {
		t.Fatal(err)
	}
	trail, err := audit.Open(ctx, b.JS, audit.MinRetention, 1)
	if err != nil {
		t.Fatal(err)
	}
	now := real.AddDate(0, 0, 31)
	p := &Purger{Days: 30, Index: idx, JS: b.JS, Images: b.Images, ImageHashes: b.ImageHashes, PageSums: b.PageSums,
		Alerts: b.Alerts, Cases: cs, Audit: trail, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Metrics: NewMetrics(prometheus.NewRegistry()), Now: func() time.Time { return now }}
	return &world{b: b, idx: idx, p: p, now: now}
}

// TestPurge: ads past the period go from the index, the streams, the
// page checksums and the image store, except those held by an open alert
// or a case; an image another ad shows stays; the purge is audited and
// counted; a profile that lost its first ad is found under its old id; a
// second purge finds nothing.
func TestPurge(t *testing.T) {
	ctx := context.Background()
	w := setup(t)
	fayBefore := w.idx.Linker.Profile("s:1006")
	res, err := w.p.Purge(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Ads != 4 || res.Kept != 2 || res.Images != 2 || res.Messages != 10 {
		t.Errorf("purge %+v, want 4 ads, 2 kept, 2 images (the own one and the earlier capture's), 10 messages (5 on each stream)", res)
	}
	for id, want := range map[string]bool{"s:1001": false, "s:1002": false, "s:1003": true, "s:1004": true, "s:1005": false,
		"s:1006": false, "s:2001": true, "s:2002": true} {
		_, ok, err := w.idx.Get(id)
		if err != nil || ok != want {
			t.Errorf("ad %s in the index: %v (%v), want %v", id, ok, err, want)
		}
		hits, err := w.idx.SearchPhones([]string{"+1510873" + id[2:]}, 5)
		if err != nil || (len(hits) > 0) != want {
			t.Errorf("search by the phone of %s: %d hits (%v), want found %v", id, len(hits), err, want)
		}
		key := record.SHA256Hex([]byte("https://s.example/ad/" + id[2:]))[:40]
		_, err = w.b.PageSums.Get(ctx, key)
		if kept := err == nil; kept != want {
			t.Errorf("page checksum of %s kept %v (%v), want %v", id, kept, err, want)
		}
	}
	for sha, want := range map[string]bool{shaShared: true, shaOwn: false, shaEarly: false} {
		_, err := w.b.Images.GetInfo(ctx, sha)
		if kept := err == nil; kept != want {
			t.Errorf("image %s… kept %v (%v), want %v", sha[:4], kept, err, want)
		}
		_, err = w.b.ImageHashes.Get(ctx, sha)
		if kept := err == nil; kept != want {
			t.Errorf("hashes of image %s… kept %v (%v), want %v", sha[:4], kept, err, want)
		}
	}
	for stream, want := range map[string]int{bus.StreamAds: 4, bus.StreamPages: 4} {
		var left []string
		st, _ := w.b.JS.Stream(ctx, stream)
		info, _ := st.Info(ctx)
		for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
			m, err := st.GetMsg(ctx, seq)
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				continue
			}
			var v struct {
				ID  string `json:"id"`
				URL string `json:"url"`
			}
			_ = json.Unmarshal(m.Data, &v)
			left = append(left, v.ID+v.URL)
		}
		if len(left) != want {
			t.Errorf("%s keeps %d messages %v, want %d", stream, len(left), left, want)
		}
	}
	if now := w.idx.Linker.Resolve(fayBefore); now != w.idx.Linker.Profile("s:2002") || now == fayBefore {
		t.Errorf("Fay's old profile id %s resolves to %s, want her profile now %s", fayBefore, now, w.idx.Linker.Profile("s:2002"))
	}
	entries, err := w.p.Audit.List(ctx, audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Action != audit.ActionRetentionPurge || entries[0].Outcome != audit.OutcomeOK {
		t.Fatalf("audit trail %+v, want one retention_purge entry", entries)
	}
	var logged Result
	if err := json.Unmarshal([]byte(entries[0].Query), &logged); err != nil || logged.Ads != 4 {
		t.Errorf("audited %q (%v), want the result", entries[0].Query, err)
	}
	if got := testutil.ToFloat64(w.p.Metrics.Purged.WithLabelValues("ads")); got != 4 {
		t.Errorf("adwatch_retention_purged_total{kind=ads} = %v, want 4", got)
	}
	again, err := w.p.Purge(ctx)
	if err != nil || again.Ads != 0 || again.Messages != 0 || again.Images != 0 {
		t.Errorf("a second purge: %+v %v, want nothing purged", again, err)
	}
	if n, _ := w.idx.Count(); n != 4 {
		t.Errorf("index holds %d ads, want 4", n)
	}
}

// TestPurgeKeepsANewCapture: an ad captured again after the purge read it
// stays in the index.
func TestPurgeKeepsANewCapture(t *testing.T) {
	w := setup(t)
	a, _, _ := w.idx.Get("s:1002")
	a.FetchedAt, a.PageSHA256 = w.now, "new"
	if _, err := w.idx.Put([]record.Ad{a}); err != nil {
		t.Fatal(err)
	}
	got, err := w.idx.Purge([]string{"s:1002"}, nil, w.now.AddDate(0, 0, -30))
	if err != nil || len(got.Ads) != 0 {
		t.Errorf("purge of a re-captured ad: %+v %v, want nothing", got, err)
	}
	if _, ok, _ := w.idx.Get("s:1002"); !ok {
		t.Error("the new capture was purged")
	}
}

// TestPurgeOff: without a period, Run purges nothing and waits.
func TestPurgeOff(t *testing.T) {
	w := setup(t)
	w.p.Days = 0
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.p.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := w.idx.Count(); n != 8 {
		t.Errorf("index holds %d ads, want all 8", n)
	}
}
