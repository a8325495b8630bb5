// Package synth makes load: extracted ads, as the extract stage publishes
// them, in any number, written straight into the ads stream without a
// crawl. They come from the simulated world (internal/sim, the "alameda"
// scenario): its ads with their phones, ages, handles, indicator terms and
// the perceptual hashes of their photos, repeated round after round, each
// round with its own persons (other phone numbers, handles and photo
// hashes, a day earlier), so that linking meets as many profiles as a
// real archive of that size and search as many documents.
package synth

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/jpeg"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/adwatch/adwatch/extractor/imagehash"
	"github.com/adwatch/adwatch/extractor/indicator"
	"github.com/adwatch/adwatch/internal/bus"
	"github.com/adwatch/adwatch/internal/record"
	"github.com/adwatch/adwatch/internal/sim"
)

// Generator makes the i-th synthetic ad.
type Generator struct {
	base []record.Ad
}

// New builds the simulated world of seed and the ads of its first round:
// photos are hashed once each, indicator terms matched with m (nil: none).
func New(seed int64, m *indicator.Matcher) (*Generator, error) {
	w, err := sim.Generate(seed, "alameda")
	if err != nil {
		return nil, fmt.Errorf("generating the simulated world: %w", err)
	}
	photos := map[int]imagehash.Result{}
	g := &Generator{base: make([]record.Ad, 0, len(w.Ads))}
	for _, sa := range w.Ads {
		site := sim.SiteOf(sa.City)
		a := record.Ad{
			ID: sim.AdKey(sa), Site: site, URL: "http://sim.invalid" + sim.AdPath(sa),
			PostedAt: sa.PostedAt.UTC(), FetchedAt: sa.PostedAt.UTC().Add(time.Hour),
			City: sa.City, Title: sa.Title, Body: sa.Body, Poster: sa.Poster,
			Ages: []int{sa.Age}, Handles: append([]string{}, sa.Handles...),
		}
		for _, p := range sa.Phones {
			a.Phones = append(a.Phones, record.Phone{E164: p, Source: "text"})
		}
		for _, p := range sa.Photos {
			h, ok := photos[p.ID]
			if !ok {
				var buf bytes.Buffer
				if err := jpeg.Encode(&buf, sim.Picture(w.Seed, p.ID), &jpeg.Options{Quality: 85}); err != nil {
					return nil, fmt.Errorf("encoding photo %d: %w", p.ID, err)
				}
				if h, err = imagehash.Hash(buf.Bytes(), 1<<24); err != nil {
					return nil, fmt.Errorf("hashing photo %d: %w", p.ID, err)
				}
				photos[p.ID] = h
			}
			img := record.Image{URL: fmt.Sprintf("http://sim.invalid/img/%d-q%d-c%d.jpg", p.ID, p.Quality, p.Crop),
				SHA256: h.SHA256, PHash: imagehash.Hex(h.PHash), Width: h.Width, Height: h.Height}
			for _, c := range h.Crops {
				img.PHashCrops = append(img.PHashCrops, imagehash.Hex(c))
			}
			a.Images = append(a.Images, img)
		}
		if m != nil {
			a.Indicators, a.Scores = m.Match(a.Title + "\n" + a.Body)
		}
		a.PageSHA256 = record.SHA256Hex([]byte(a.ID + "\n" + a.Title + "\n" + a.Body))
		g.base = append(g.base, a)
	}
	return g, nil
}

// Round is how many ads one round holds: the simulated world's.
func (g *Generator) Round() int { return len(g.base) }

// Ad returns the i-th ad: ad i mod Round of the world, moved to round
// i / Round. Round 0 is the world as it is; in a later round every phone,
// handle and photo belongs to that round's own persons.
func (g *Generator) Ad(i int) record.Ad {
	k := i / len(g.base)
	a := g.base[i%len(g.base)]
	if k == 0 {
		return a
	}
	suffix := "r" + strconv.Itoa(k)
	a.ID += suffix
	a.URL += "?" + suffix
	back := time.Duration(k) * 24 * time.Hour
	a.PostedAt, a.FetchedAt = a.PostedAt.Add(-back), a.FetchedAt.Add(-back)
	a.Phones = append([]record.Phone{}, a.Phones...)
	for j, p := range a.Phones {
		a.Phones[j].E164 = otherNumber(p.E164, k)
	}
	a.Handles = append([]string{}, a.Handles...)
	for j, h := range a.Handles {
		a.Handles[j] = h + suffix
	}
	// XOR with the round's mask keeps the distances between one round's
	// photos and puts other rounds' photos about 32 bits away.
	mask := mix(uint64(k))
	a.Images = append([]record.Image{}, a.Images...)
	for j, img := range a.Images {
		img.URL += "?" + suffix
		img.SHA256 = record.SHA256Hex([]byte(img.SHA256 + suffix))
		img.PHash = xorHex(img.PHash, mask)
		img.PHashCrops = append([]string{}, img.PHashCrops...)
		for c, h := range img.PHashCrops {
			img.PHashCrops[c] = xorHex(h, mask)
		}
		a.Images[j] = img
	}
	a.PageSHA256 = record.SHA256Hex([]byte(a.PageSHA256 + suffix))
	return a
}

// otherNumber moves the subscriber part of an E.164 number (its last
// seven digits) by round k.
func otherNumber(e164 string, k int) string {
	if len(e164) < 8 {
		return e164
	}
	head, tail := e164[:len(e164)-7], e164[len(e164)-7:]
	n, err := strconv.Atoi(tail)
	if err != nil {
		return e164
	}
	return fmt.Sprintf("%s%07d", head, (n+k*1_000_003)%10_000_000)
}

// mix is splitmix64's finalizer: a well-spread 64-bit mask per round.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

func xorHex(h string, mask uint64) string {
	v, err := imagehash.ParseHex(h)
	if err != nil {
		return h
	}
	return imagehash.Hex(v ^ mask)
}

// Publish writes ads 0 to n-1 to the ads stream as the extract stage
// does (subject per site, message id per ad version), keeping up to 1,024
// publishes in flight. progress, when not nil, is called every few
// seconds and at the end with the count written.
func Publish(ctx context.Context, js jetstream.JetStream, g *Generator, n int, progress func(done int)) error {
	const window = 1024
	last := time.Now()
	pending := make([]jetstream.PubAckFuture, 0, window)
	settle := func() error {
		for _, f := range pending {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				return fmt.Errorf("publishing a generated ad: %w", err)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		pending = pending[:0]
		return nil
	}
	for i := range n {
		a := g.Ad(i)
		data, err := json.Marshal(&a)
		if err != nil {
			return fmt.Errorf("encoding ad %s: %w", a.ID, err)
		}
		msg := &nats.Msg{Subject: bus.SubjectAds + "." + a.Site, Data: data, Header: nats.Header{}}
		msg.Header.Set(jetstream.MsgIDHeader, a.ID+"/"+a.Version())
		f, err := js.PublishMsgAsync(msg)
		if err != nil {
			return fmt.Errorf("publishing ad %s: %w", a.ID, err)
		}
		pending = append(pending, f)
		if len(pending) == window {
			if err := settle(); err != nil {
				return err
			}
			if progress != nil && time.Since(last) >= 2*time.Second {
				last = time.Now()
				progress(i + 1)
			}
		}
	}
	if err := settle(); err != nil {
		return err
	}
	if progress != nil {
		progress(n)
	}
	return nil
}
