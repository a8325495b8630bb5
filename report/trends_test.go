package report

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/adwatch/adwatch/indexer"
	"github.com/adwatch/adwatch/internal/config"
	"github.com/adwatch/adwatch/internal/record"
)

func TestDays(t *testing.T) {
	for _, tc := range []struct {
		from, to string
		n        int
		err      string
	}{
		{"2020-10-01", "2020-10-03", 3, ""},
		{"2020-10-02", "2020-10-02", 1, ""},
		{"2020-02-28", "2020-03-01", 3, ""}, // a leap year
		{"2020-10-03", "2020-10-01", 0, "before"},
		{"10/02/20", "2020-10-03", 0, "YYYY-MM-DD"},
		{"2019-01-01", "2020-12-31", 0, "more than"},
	} {
		days, err := Days(tc.from, tc.to)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Days(%s, %s): %v, want an error with %q", tc.from, tc.to, err, tc.err)
			}
			continue
		}
		if err != nil || len(days) != tc.n || days[0] != tc.from || days[len(days)-1] != tc.to {
			t.Errorf("Days(%s, %s) = %v, %v; want %d days", tc.from, tc.to, days, err, tc.n)
		}
	}
}

// TestTrends counts a real index day by day in the cities' own zones.
func TestTrends(t *testing.T) {
	idx, err := indexer.Open(t.TempDir(), 8, 25, false)
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	pacific, _ := time.LoadLocation("America/Los_Angeles")
	at := func(day, hour int) time.Time { return time.Date(2020, 10, day, hour, 0, 0, 0, pacific) }
	ad := func(id, city string, posted time.Time, phone string) record.Ad {
		return record.Ad{ID: id, City: city, PostedAt: posted, PageSHA256: id, Phones: []record.Phone{{E164: phone}}}
	}
	if _, err := idx.Put([]record.Ad{
		ad("s:1", "Oakland", at(1, 23), "+15108730001"),
		// 00:30 local on the 2nd is still the 1st in UTC: it counts on the 2nd.
		ad("s:2", "Oakland", at(2, 0).Add(30*time.Minute), "+15108730002"),
		ad("s:3", "Oakland", at(2, 12), "+15108730002"),
		ad("s:4", "San Jose", at(3, 9), "+14088730003"),
	}); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Cities = []config.City{{Name: "Oakland", Timezone: "America/Los_Angeles"}, {Name: "San Jose", Timezone: "America/Los_Angeles"}}
	src := &Local{Config: &cfg, Index: idx}
	rows, err := Trends(context.Background(), src, []string{"Oakland", "San Jose"}, "2020-10-01", "2020-10-03")
	if err != nil {
		t.Fatal(err)
	}
	want := []TrendDay{
		{"2020-10-01", "Oakland", 1, 1, 1}, {"2020-10-02", "Oakland", 2, 2, 1}, {"2020-10-03", "Oakland", 0, 0, 0},
		{"2020-10-01", "San Jose", 0, 0, 0}, {"2020-10-02", "San Jose", 0, 0, 0}, {"2020-10-03", "San Jose", 1, 1, 1},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("trends (-want +got):\n%s", diff)
	}
	var csv bytes.Buffer
	if err := WriteTrendCSV(&csv, rows[:2]); err != nil {
		t.Fatal(err)
	}
	if got, want := csv.String(), "date,city,ads,profiles,phones\n2020-10-01,Oakland,1,1,1\n2020-10-02,Oakland,2,2,1\n"; got != want {
		t.Errorf("csv:\n%s\nwant:\n%s", got, want)
	}
	if _, err := Trends(context.Background(), src, nil, "2020-10-01", "2020-10-03"); err == nil {
		t.Error("a trend without a city: no error")
	}
}
