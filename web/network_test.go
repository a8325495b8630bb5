package web

import (
	"encoding/json"
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/adwatch/adwatch/indexer"
	"github.com/adwatch/adwatch/internal/record"
)

// networkServer serves two persons joined by a shared phone and an email
// whose label is hostile, and a third person on their own.
func networkServer(t *testing.T) (*site, string) {
	t.Helper()
	idx := openIndex(t)
	at := time.Date(2020, 10, 2, 12, 0, 0, 0, time.UTC)
	hostile := `email:<script>alert(1)</script>"@x.example`
	ads := []record.Ad{
		{ID: "s:1", City: "Oakland", Poster: "Rosa", PostedAt: at, PageSHA256: "1", Phones: []record.Phone{{E164: "+15108730123"}}, Handles: []string{hostile}},
		{ID: "s:2", City: "Oakland", Poster: "Rosa", PostedAt: at.Add(time.Hour), PageSHA256: "2", Phones: []record.Phone{{E164: "+15108730123"}}},
		{ID: "s:3", City: "San Jose", Poster: "Mia", PostedAt: at.Add(2 * time.Hour), PageSHA256: "3", Phones: []record.Phone{{E164: "+15108730123"}}, Handles: []string{hostile}},
		{ID: "s:4", City: "Fresno", Poster: "Ivy", PostedAt: at, PageSHA256: "4", Phones: []record.Phone{{E164: "+15595550000"}}},
	}
	if _, err := idx.Put(ads); err != nil {
		t.Fatal(err)
	}
	ts := serve(t, idx, nil)
	ts.srv.Now = func() time.Time { return at.AddDate(0, 0, 10) }
	return ts, idx.Linker.Network(idx.Linker.Profile("s:1"))
}

func TestNetworkAPI(t *testing.T) {
	ts, id := networkServer(t)
	resp, err := ts.c.Get(ts.URL + "/api/networks/" + id)
	if err != nil {
		t.Fatal(err)
	}
	var v indexer.NetworkView
	err = json.NewDecoder(resp.Body).Decode(&v)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("network %s: %d %v", id, resp.StatusCode, err)
	}
	if v.ID != id || len(v.Profiles) != 2 || v.Size.Profiles != 2 || v.Size.Ads != 3 || v.Size.ProfilesLast30Days != 2 || v.MaxProfilesPerLink != 25 {
		t.Errorf("network: %+v", v)
	}
	shared := 0
	for _, i := range v.Identifiers {
		if len(i.Profiles) == 2 && i.AllProfiles == 2 {
			shared++
		}
	}
	if shared != 2 {
		t.Errorf("want the phone and the email shared by both profiles: %+v", v.Identifiers)
	}
	for path, want := range map[string]int{"/api/networks/Nnope": 404, "/api/networks/Nnope/graph.svg": 404} {
		resp, err := ts.c.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
}

func TestNetworkGraphSVG(t *testing.T) {
	ts, id := networkServer(t)
	resp, err := ts.c.Get(ts.URL + "/api/networks/" + id + "/graph.svg")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/svg+xml" {
		t.Fatalf("graph: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	svg := string(body)
	if strings.Contains(strings.ToLower(svg), "<script") || strings.Contains(svg, `"@x`) {
		t.Errorf("the hostile label is not escaped: %s", svg)
	}
	if !strings.Contains(svg, "&lt;script&gt;") {
		t.Errorf("the hostile label is missing: %s", svg)
	}
	if n := strings.Count(svg, "<circle"); n != 2 {
		t.Errorf("%d profiles drawn, want 2", n)
	}
	if n := strings.Count(svg, "<line"); n != 4 {
		t.Errorf("%d edges drawn, want 4 (two identifiers, two profiles each)", n)
	}
	// Well-formed XML.
	d := xml.NewDecoder(strings.NewReader(svg))
	for {
		_, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the SVG is not well-formed: %v", err)
		}
	}
	// Deterministic.
	resp, _ = ts.c.Get(ts.URL + "/api/networks/" + id + "/graph.svg")
	again, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(again) != svg {
		t.Errorf("the graph changes between two requests")
	}
}
