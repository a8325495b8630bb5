package indexer

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/adwatch/adwatch/internal/bus"
	"github.com/adwatch/adwatch/internal/bus/bustest"
)

// BenchmarkStage drains 4,284 ads (the simulated world's count) waiting
// in the ads stream through the index stage, as run does once the crawl
// has outrun it: decoding, indexing, linking, the profile updates
// published and the ads acknowledged. It reports the stage's rate.
func BenchmarkStage(b *testing.B) {
	if testing.Short() {
		b.Skip("runs JetStream and indexes 4,284 ads")
	}
	const n = 4284
	ads, _ := benchAds(n)
	var drained time.Duration
	var runs int
	for b.Loop() {
		b.StopTimer()
		bs := bustest.New(b)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		for _, a := range ads {
			data, _ := json.Marshal(a)
			if _, err := bs.JS.Publish(ctx, bus.SubjectAds+"."+a.Site, data); err != nil {
				b.Fatal(err)
			}
		}
		x, err := Open(b.TempDir(), 8, 25, false)
		if err != nil {
			b.Fatal(err)
		}
		st := &Stage{Index: x, JS: bs.JS, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: NewMetrics(nil)}
		b.StartTimer()
		start := time.Now()
		done := make(chan error, 1)
		rctx, stop := context.WithCancel(ctx)
		go func() { done <- st.Run(rctx) }()
		for {
			c, err := bs.JS.Consumer(ctx, bus.StreamAds, "indexer")
			if err == nil {
				info, err := c.Info(ctx)
				if err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.AckFloor.Stream >= n {
					break
				}
			}
			if ctx.Err() != nil {
				b.Fatal("the stage did not drain the ads")
			}
			time.Sleep(5 * time.Millisecond)
		}
		drained += time.Since(start)
		runs++
		b.StopTimer()
		stop()
		if err := <-done; err != nil {
			b.Error(err)
		}
		x.Close()
		cancel()
		b.StartTimer()
	}
	b.ReportMetric(float64(n*runs)/drained.Seconds(), "ads/s")
}
