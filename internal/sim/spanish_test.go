package sim

import (
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/adwatch/adwatch/extractor"
	"github.com/adwatch/adwatch/extractor/age"
	"github.com/adwatch/adwatch/extractor/indicator"
	"github.com/adwatch/adwatch/extractor/phone"
	"github.com/adwatch/adwatch/internal/record"
	"github.com/adwatch/adwatch/internal/site"
)

// fingerprint sums up the persons and ads that are not in Spanish.
func fingerprint(w *World) string {
	h := sha256.New()
	for _, p := range w.Persons {
		if !p.Spanish {
			fmt.Fprintln(h, p.ID, p.Name, p.Phone, p.Network, p.Photos, p.NewPhotos, p.AltName, p.Stolen, p.Age, p.Youth, p.Falling, p.Handle, p.Surge)
		}
	}
	for _, a := range w.Ads {
		if !a.Spanish {
			fmt.Fprintln(h, a.ID, a.Person, a.City, a.PostedAt.UnixNano(), a.Title, a.Body, a.Poster, a.PhoneField, a.Phones, a.Age, a.Photos, a.Handles)
		}
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// TestWorldBeforeSpanishUnchanged: the persons who write in Spanish come
// from their own random stream after everyone else, so every other
// person and ad is as it was before them (the sum was taken then).
func TestWorldBeforeSpanishUnchanged(t *testing.T) {
	w, err := Generate(1, "alameda")
	if err != nil {
		t.Fatal(err)
	}
	const before = "173228b26ee4b46bcc516dc3b0dbbd6956c789bc6b51d1aaafbb1d24f9195d6e"
	if got := fingerprint(w); got != before {
		t.Errorf("the world without its ads in Spanish changed: sum %s, want %s", got, before)
	}
}

// TestSpanishAds: the world has ads in Spanish in Fresno (US numbers) and
// Guayaquil (Ecuadorian numbers written without +593); each reads as
// Spanish and no other does, and the ages they state are found.
func TestSpanishAds(t *testing.T) {
	w, err := Generate(1, "alameda")
	if err != nil {
		t.Fatal(err)
	}
	perCity, youth := map[string]int{}, map[string]bool{}
	firstSpanish := len(w.Ads)
	for i, a := range w.Ads {
		text := a.Title + "\n" + a.Body
		if phone.Spanish(text) != a.Spanish {
			t.Errorf("ad %d (%s): phone.Spanish is %v, written in Spanish %v: %q", a.ID, a.City, !a.Spanish, a.Spanish, text)
		}
		if !a.Spanish {
			if i > firstSpanish {
				t.Fatalf("ad %d is not in Spanish but comes after the ads in Spanish", a.ID)
			}
			continue
		}
		firstSpanish = min(firstSpanish, i)
		perCity[a.City]++
		p := w.Persons[a.Person]
		youth[a.City] = youth[a.City] || p.Youth
		if !slices.Contains(SpanishCities, a.City) || !p.Spanish {
			t.Errorf("ad %d in Spanish in %s by person %d", a.ID, a.City, p.ID)
		}
		wantCC := map[string]string{"Fresno": "+1559", "Guayaquil": "+5939"}[a.City]
		if !strings.HasPrefix(a.Phones[0], wantCC) {
			t.Errorf("ad %d in %s: phone %s, want %s...", a.ID, a.City, a.Phones[0], wantCC)
		}
		if ECCities[a.City] && strings.Contains(a.PhoneField+text, "+") {
			t.Errorf("ad %d in %s writes a country code: %q", a.ID, a.City, a.PhoneField+text)
		}
		ages := age.Find(text)
		for _, n := range ages {
			if n != a.Age {
				t.Errorf("ad %d: ages %v found in %q, want only %d", a.ID, ages, text, a.Age)
			}
		}
		if ECCities[a.City] && len(ages) == 0 {
			t.Errorf("ad %d: no age found in %q", a.ID, text)
		}
		if i > 0 && w.Ads[i-1].Spanish && (a.PostedAt.Before(w.Ads[i-1].PostedAt) || a.ID != w.Ads[i-1].ID+1) {
			t.Errorf("ads in Spanish out of order at %d", a.ID)
		}
	}
	t.Logf("ads in Spanish: %v", perCity)
	for _, c := range SpanishCities {
		if perCity[c] < 100 || !youth[c] {
			t.Errorf("%s: %d ads in Spanish, youth-indicator persons %v; want at least 100 and some", c, perCity[c], youth[c])
		}
	}
}

// TestClasificados: the third site is served under /ec/ only, and the
// extractor reads its pages from configs/sites/clasificados.yaml alone.
func TestClasificados(t *testing.T) {
	w, err := Generate(1, "alameda")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewServer(w))
	defer srv.Close()
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/"); code != 200 || !strings.Contains(body, `href="/c/fresno/"`) || strings.Contains(body, "guayaquil") {
		t.Errorf("home: %d %s", code, body)
	}
	if code, body := get("/ec/"); code != 200 || !strings.Contains(body, `href="/ec/guayaquil/"`) {
		t.Errorf("/ec/: %d %s", code, body)
	}
	if code, _ := get("/c/guayaquil/"); code != http.StatusNotFound {
		t.Errorf("/c/guayaquil/: %d, want 404", code)
	}
	if code, _ := get("/ec/fresno/"); code != http.StatusNotFound {
		t.Errorf("/ec/fresno/: %d, want 404", code)
	}
	if code, body := get("/ec/guayaquil/?pagina=2"); code != 200 || !strings.Contains(body, `href="/ec/anuncio/`) {
		t.Errorf("/ec/guayaquil/?pagina=2: %d %s", code, body)
	}

	data, err := os.ReadFile("../../configs/sites/clasificados.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := site.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetBaseURL(srv.URL); err != nil {
		t.Fatal(err)
	}
	m, err := indicator.LoadDir("../../configs/indicators")
	if err != nil {
		t.Fatal(err)
	}
	e := extractor.New([]site.Site{s}, "US", m, 1<<24)
	checked := 0
	for _, a := range w.Ads {
		if !ECCities[a.City] || a.ID%37 == 0 || checked == 60 {
			continue
		}
		checked++
		url := srv.URL + AdPath(a)
		if !s.IsAdPage(url) {
			t.Fatalf("%s is no ad page of clasificados", url)
		}
		code, html := get(AdPath(a))
		if code != 200 {
			t.Fatalf("%s: %d", url, code)
		}
		got, err := e.Extract(&record.Page{Site: "clasificados", URL: url, HTML: []byte(html), FetchedAt: time.Now()}, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			what      string
			got, want any
		}{
			{"id", got.ID, AdKey(a)},
			{"title", got.Title, a.Title},
			{"city", got.City, a.City},
			{"poster", got.Poster, a.Poster},
			{"posted", got.PostedAt.UTC(), a.PostedAt.Truncate(time.Minute).UTC()},
			{"ages", fmt.Sprint(got.Ages), fmt.Sprint([]int{a.Age})},
			{"phones", fmt.Sprint(got.PhoneNumbers()), fmt.Sprint(a.Phones)},
			{"problems", fmt.Sprint(got.Problems), "[]"},
		} {
			if c.got != c.want {
				t.Errorf("ad %d: %s = %v, want %v", a.ID, c.what, c.got, c.want)
			}
		}
		youth := false
		for _, in := range got.Indicators {
			youth = youth || in.Category == "youth"
		}
		if youth != w.Persons[a.Person].Youth {
			t.Errorf("ad %d: youth indicators %v, person youth %v: %q", a.ID, youth, w.Persons[a.Person].Youth, a.Body)
		}
	}
}
