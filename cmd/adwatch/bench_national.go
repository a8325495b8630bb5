package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime/pprof"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/adwatch/adwatch/internal/app"
	"github.com/adwatch/adwatch/internal/bus"
	"github.com/adwatch/adwatch/internal/config"
	"github.com/adwatch/adwatch/internal/record"
	"github.com/adwatch/adwatch/internal/sim"
	"github.com/adwatch/adwatch/internal/site"
)

// nationalDayAds is the national day of issue 11: 200,000 ads with three
// photos each, most of them reused, in under 10 minutes.
const (
	nationalDayAds    = 200_000
	nationalDayTarget = 10 * time.Minute
	// nationalDayIDs separates one round's ad ids from the next's: more
	// than the simulated world's largest id.
	nationalDayIDs = 1_000_000
)

// nationalDay measures the national day on n ads: they are written into
// the pages stream and the image store as the crawler writes them (each
// page rendered by the simulator, each distinct photo stored once under
// its SHA-256), then the extract, index and alert stages of run --once
// take them all, from the first page to the last alert evaluated. The
// ads are the simulated world's, round after round, each round's under
// new ids; every ad shows three photos of its person, so from the
// second round on nearly every photo is one already seen, as reposts
// are. The crawl itself is not in the figure: the end-to-end rows
// measure it. With profile set, the stages run under a CPU profile
// written there.
func (b *bench) nationalDay(ctx context.Context, cfg config.Config, n int, profile string) error {
	w, err := sim.Generate(1, "alameda")
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "adwatch-bench-national-")
	if err != nil {
		return fmt.Errorf("creating the bench directory: %w", err)
	}
	defer os.RemoveAll(dir)
	level := slog.LevelError
	if b.verbose {
		level = slog.LevelInfo
	}
	a := app.New(cfg, dir, slog.New(slog.NewTextHandler(b.log, &slog.HandlerOptions{Level: level})))
	a.SyncAlways = false
	if err := a.Connect(ctx, true); err != nil {
		return err
	}
	defer a.Close()

	fmt.Fprintf(b.log, "bench: national day: writing %d pages with 3 photos each\n", n)
	start := time.Now()
	wr, err := writeNationalDay(ctx, a.Bus, cfg.Sites, w, n)
	if err != nil {
		return err
	}
	wrote := time.Since(start)

	s, err := a.Build(ctx, []string{app.RoleExtract, app.RoleIndex, app.RoleAlerts}, app.Options{Once: true})
	if err != nil {
		return err
	}
	defer s.Close()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	fmt.Fprintf(b.log, "bench: national day: extract, index and alerts on %d pages\n", n)
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return fmt.Errorf("creating the CPU profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("starting the CPU profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	start, cpu := time.Now(), cpuTime()
	go func() { done <- app.RunStages(runCtx, s.Named) }()
	if err := waitDrained(ctx, a.Bus.JS, s, done, b.log, start); err != nil {
		return err
	}
	took, cpu := time.Since(start), cpuTime()-cpu
	cancel()
	if err := <-done; err != nil {
		return fmt.Errorf("national day: the stages: %w", err)
	}
	indexed, _ := s.Index.Count()
	rate := float64(n) / took.Seconds()
	projected := time.Duration(float64(nationalDayAds) / rate * float64(time.Second))
	how := fmt.Sprintf("projected from %d at this rate, not measured", n)
	if n == nationalDayAds {
		how = "measured"
	}
	b.add(fmt.Sprintf("national day: %d ads with 3 photos each (extract, index, alerts)", n),
		fmt.Sprintf("%.0f ads/s; 200,000 ads in %v", rate, projected.Round(time.Second)), "200,000 ads in < 10 min",
		fmt.Sprintf("%d pages and %d photos (%d distinct, %.0f%% reused) written into the streams in %v, then extracted, indexed (%d ads) and alerted in %v, CPU %v; the time for 200,000 is %s",
			n, wr.photos, wr.distinct, 100*float64(wr.photos-wr.distinct)/float64(max(wr.photos, 1)), wrote.Round(100*time.Millisecond),
			indexed, took.Round(100*time.Millisecond), cpu.Round(100*time.Millisecond), how))
	return nil
}

// nationalDayWrite is what writeNationalDay wrote.
type nationalDayWrite struct {
	photos, distinct int
}

// writeNationalDay writes n ad pages of w's ads, round after round, into
// the pages stream, and their photos into the image store, as the crawler
// does: the page as the simulator serves it, each photo once by its
// SHA-256. Ad i is w's ad i mod len(w.Ads) under a new id in its round,
// with three photos of its person.
func writeNationalDay(ctx context.Context, b *bus.Bus, sites []site.Site, w *sim.World, n int) (nationalDayWrite, error) {
	var out nationalDayWrite
	base := map[string]string{}
	for i := range sites {
		base[sites[i].Name] = sites[i].BaseURL
	}
	stored := map[string]record.ImageRef{} // by image path
	var batch []*nats.Msg
	flush := func() error {
		_, errs := bus.PublishAll(ctx, b.JS, batch, time.Minute)
		for _, err := range errs {
			if err != nil {
				return fmt.Errorf("national day: publishing a page: %w", err)
			}
		}
		batch = batch[:0]
		return nil
	}
	for round := 0; round*len(w.Ads) < n; round++ {
		rw := *w
		rw.Ads = make([]sim.Ad, 0, min(len(w.Ads), n-round*len(w.Ads)))
		for _, a := range w.Ads[:cap(rw.Ads)] {
			a.ID += round * nationalDayIDs
			a.Photos = threePhotos(w, a)
			rw.Ads = append(rw.Ads, a)
		}
		srv := sim.NewServer(&rw)
		for _, a := range rw.Ads {
			name := sim.SiteOf(a.City)
			u := base[name] + sim.AdPath(a)
			html, err := serve(srv, sim.AdPath(a))
			if err != nil {
				return out, fmt.Errorf("national day: ad %d: %w", a.ID, err)
			}
			page := record.Page{Site: name, URL: u, FetchedAt: time.Now().UTC(), SHA256: record.SHA256Hex(html), HTML: html}
			for _, ph := range a.Photos {
				path := fmt.Sprintf("/img/%d-q%d-c%d.jpg", ph.ID, ph.Quality, ph.Crop)
				ref, ok := stored[path]
				if !ok {
					data, err := serve(srv, path)
					if err != nil {
						return out, fmt.Errorf("national day: photo %s: %w", path, err)
					}
					ref = record.ImageRef{URL: base[name] + path, SHA256: record.SHA256Hex(data), Size: int64(len(data))}
					if _, err := b.Images.PutBytes(ctx, ref.SHA256, data); err != nil {
						return out, fmt.Errorf("national day: storing photo %s: %w", path, err)
					}
					stored[path] = ref
					out.distinct++
				}
				ref.URL = base[name] + path
				page.Images = append(page.Images, ref)
				out.photos++
			}
			data, err := json.Marshal(page)
			if err != nil {
				return out, fmt.Errorf("national day: encoding page: %w", err)
			}
			msg := &nats.Msg{Subject: bus.SubjectPages + "." + name, Data: data, Header: nats.Header{}}
			msg.Header.Set(jetstream.MsgIDHeader, record.SHA256Hex([]byte(u))[:40]+"/"+page.SHA256)
			if batch = append(batch, msg); len(batch) == 256 {
				if err := flush(); err != nil {
					return out, err
				}
			}
		}
	}
	return out, flush()
}

// threePhotos are the three photos of a national-day ad: those its own ad
// in the simulated world shows, then its person's other photos, then
// pictures of the person's own that the world never drew (ids past every
// photo's), in that order.
func threePhotos(w *sim.World, a sim.Ad) []sim.Photo {
	var out []sim.Photo
	seen := map[int]bool{}
	add := func(p sim.Photo) {
		if len(out) < 3 && !seen[p.ID] {
			seen[p.ID] = true
			out = append(out, p)
		}
	}
	for _, p := range a.Photos {
		add(p)
	}
	if a.Person >= 0 && a.Person < len(w.Persons) {
		for _, id := range w.Persons[a.Person].Photos {
			add(sim.Photo{ID: id, Quality: 85})
		}
	}
	for k := 0; len(out) < 3; k++ {
		add(sim.Photo{ID: nationalDayIDs + 3*a.Person + k, Quality: 85})
	}
	return out
}

// serve asks the simulator for path in-process, once more after a 429
// (it refuses some ads the first time).
func serve(h http.Handler, path string) ([]byte, error) {
	for range 2 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code == http.StatusOK {
			return rec.Body.Bytes(), nil
		}
		if rec.Code != http.StatusTooManyRequests {
			return nil, fmt.Errorf("the simulator answered %d for %s", rec.Code, path)
		}
	}
	return nil, fmt.Errorf("the simulator refused %s twice", path)
}

// waitDrained returns when the extract and index stages have
// acknowledged every message and the alert stage has evaluated every
// profile update, twice in a row (as run --once waits), logging progress
// every 10 seconds; or with the error of a stage that stopped (done).
func waitDrained(ctx context.Context, js jetstream.JetStream, s *app.Stages, done <-chan error, log io.Writer, start time.Time) error {
	calm := 0
	last := time.Now()
	for calm < 2 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-done:
			return fmt.Errorf("national day: a stage stopped: %w", err)
		case <-time.After(300 * time.Millisecond):
		}
		pages, err := bus.Pending(ctx, js, bus.StreamPages, "extractor")
		if err != nil {
			return err
		}
		ads, err := bus.Pending(ctx, js, bus.StreamAds, "indexer")
		if err != nil {
			return err
		}
		st, err := js.Stream(ctx, bus.StreamProfiles)
		if err != nil {
			return fmt.Errorf("reading the profile stream: %w", err)
		}
		info, err := st.Info(ctx)
		if err != nil {
			return fmt.Errorf("reading the profile stream: %w", err)
		}
		if time.Since(last) >= 10*time.Second {
			last = time.Now()
			n, _ := s.Index.Count()
			fmt.Fprintf(log, "bench: national day: %d ads indexed in %v, %d pages and %d ads waiting\n", n, time.Since(start).Round(time.Second), pages, ads)
		}
		if pages > 0 || ads > 0 || s.Alerts.Processed() < info.State.LastSeq {
			calm = 0
			continue
		}
		calm++
	}
	return nil
}
