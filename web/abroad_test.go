package web

import (
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/adwatch/adwatch/internal/config"
	"github.com/adwatch/adwatch/internal/record"
	sitedesc "github.com/adwatch/adwatch/internal/site"
)

// TestSearchNumberAbroad: a number typed the way it is written in the
// country of a watched site (no +593) finds its ads; a US number still
// reads as US first.
func TestSearchNumberAbroad(t *testing.T) {
	idx := openIndex(t)
	at := time.Date(2020, 10, 2, 12, 0, 0, 0, time.UTC)
	if _, err := idx.Put([]record.Ad{
		{ID: "c:1", Site: "clasificados", City: "Guayaquil", Title: "nueva en la ciudad", PostedAt: at, PageSHA256: "1",
			Phones: []record.Phone{{E164: "+593993124567"}}},
		{ID: "s:1", Site: "s", City: "Oakland", Title: "sweet company", PostedAt: at, PageSHA256: "2",
			Phones: []record.Phone{{E164: "+15108730123"}}},
	}); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Sites = []sitedesc.Site{{Name: "clasificados", Country: "EC"}}
	ts := serveConfig(t, idx, nil, cfg)
	for _, tc := range []struct{ q, phone, ad string }{
		{"099 312 4567", "+593993124567", "c:1"},
		{"(510) 873-0123", "+15108730123", "s:1"},
	} {
		resp, err := ts.c.Get(ts.URL + "/api/search?q=" + url.QueryEscape(tc.q))
		if err != nil {
			t.Fatal(err)
		}
		var res SearchResult
		err = json.NewDecoder(resp.Body).Decode(&res)
		resp.Body.Close()
		if err != nil || len(res.Phones) != 1 || res.Phones[0] != tc.phone || len(res.Ads) != 1 || res.Ads[0].ID != tc.ad {
			t.Errorf("search %q: phones %v, ads %+v, %v; want %s and %s", tc.q, res.Phones, res.Ads, err, tc.phone, tc.ad)
		}
	}
}
