package web

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/adwatch/adwatch/report"
)

func TestTrendsAPI(t *testing.T) {
	ts := testServer(t)
	get := func(path string) (*http.Response, string) {
		t.Helper()
		resp, err := ts.c.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}
	resp, body := get("/api/trends?city=Oakland&city=San+Jose&from=2020-10-01&to=2020-10-03")
	var rows []report.TrendDay
	if err := json.Unmarshal([]byte(body), &rows); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("trends: %d %v %s", resp.StatusCode, err, body)
	}
	sum := map[string]int{}
	for _, r := range rows {
		sum[r.City] += r.Ads
	}
	if len(rows) != 6 || sum["Oakland"] != 2 || sum["San Jose"] != 1 {
		t.Errorf("trends: %+v", rows)
	}
	resp, body = get("/api/trends?city=Oakland&from=2020-10-02&to=2020-10-02&format=csv")
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") || !strings.HasPrefix(body, "date,city,ads,profiles,phones\n2020-10-02,Oakland,2,") {
		t.Errorf("csv: %s %q", resp.Header.Get("Content-Type"), body)
	}
	for _, bad := range []string{
		"/api/trends?from=2020-10-01&to=2020-10-03",
		"/api/trends?city=Oakland&from=2020-10-03&to=2020-10-01",
		"/api/trends?city=Oakland&from=2020-10-01&to=2020-10-03&format=xml",
	} {
		if resp, _ := get(bad); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", bad, resp.StatusCode)
		}
	}
}
