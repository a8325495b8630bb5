package crawler

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/adwatch/adwatch/internal/bus"
	"github.com/adwatch/adwatch/internal/bus/bustest"
	"github.com/adwatch/adwatch/internal/record"
	"github.com/adwatch/adwatch/internal/site"
)

// TestPagesInLegacyCharsets: pages served in windows-1252 and Shift_JIS,
// named by the Content-Type header or only by a meta tag, reach the
// extractor as UTF-8 with their text intact, while the capture keeps the
// bytes exactly as served.
func TestPagesInLegacyCharsets(t *testing.T) {
	for _, tc := range []struct {
		name, text, header, meta string
		enc                      encoding.Encoding
	}{
		{"windows-1252 by header", "Café, señorita, 24 años. Llama 555-010-4242", "text/html; charset=windows-1252", "", charmap.Windows1252},
		{"Shift_JIS by header", "大阪のモデル、２２歳。電話 555-010-4242", "text/html; charset=Shift_JIS", "", japanese.ShiftJIS},
		{"Shift_JIS by meta tag", "東京、新しい写真。電話 555-010-4242", "text/html", `<meta charset="Shift_JIS">`, japanese.ShiftJIS},
		{"windows-1252 by http-equiv", "Niña? No: adulta, 25. 555-010-4242", "text/html", `<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">`, charmap.Windows1252},
	} {
		t.Run(tc.name, func(t *testing.T) {
			html := "<html><head>" + tc.meta + "</head><body><article data-id=\"1\"><p>" + tc.text + "</p></article></body></html>"
			served, err := tc.enc.NewEncoder().String(html)
			if err != nil {
				t.Fatal(err)
			}
			if served == html {
				t.Fatal("the test page is the same in UTF-8; it tests nothing")
			}
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/":
					fmt.Fprint(w, `<a href="/ad/1.html">1</a>`)
				case "/ad/1.html":
					w.Header().Set("Content-Type", tc.header)
					io.WriteString(w, served)
				default:
					http.NotFound(w, r)
				}
			}))
			defer ts.Close()
			b := bustest.New(t)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			s, err := site.Parse([]byte(fmt.Sprintf(`name: charset
start_urls: ["%s/"]
allowed: ['^%s/($|ad/)']
ad_pages: ['/ad/']
allow_private_addresses: true
fields: {id: {css: article, attr: data-id}}
`, ts.URL, ts.URL)))
			if err != nil {
				t.Fatal(err)
			}
			c := &Crawler{Sites: []site.Site{s}, JS: b.JS, Images: b.Images, PageSums: b.PageSums, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: NewMetrics(nil)}
			if st, err := c.Crawl(ctx, &s); err != nil || st.Published != 1 {
				t.Fatalf("crawl: %+v, %v; want 1 published", st, err)
			}
			p := firstPage(ctx, t, b.JS)
			if !strings.Contains(string(p.HTML), tc.text) {
				t.Errorf("page text reached the extractor as %q, want it to contain %q in UTF-8", p.HTML, tc.text)
			}
			if string(p.Served()) != served {
				t.Errorf("capture kept %q, want the bytes served", p.Served())
			}
		})
	}
}

// TestToUTF8 covers the choices toUTF8 makes on its own.
func TestToUTF8(t *testing.T) {
	long := strings.Repeat("a", 2000) + " señorita"
	for _, tc := range []struct {
		name, body, contentType, want string
	}{
		{"UTF-8 past the first 1,024 bytes, no charset", long, "text/html", long},
		{"declared windows-1252 but written in UTF-8", `<meta charset="windows-1252">señorita`, "text/html", `<meta charset="windows-1252">señorita`},
		{"no declaration, not UTF-8", "se\xf1orita", "text/html", "señorita"},
		{"charset in the header: colly's work", "se\xf1orita", "text/html; charset=windows-1252", "se\xf1orita"},
		{"UTF-16 by BOM", "\xff\xfeh\x00i\x00", "", "hi"},
		{"empty", "", "text/html", ""},
	} {
		if got := string(toUTF8([]byte(tc.body), tc.contentType)); got != tc.want {
			t.Errorf("%s: toUTF8 = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// firstPage returns the first page on the pages stream.
func firstPage(ctx context.Context, t *testing.T, js jetstream.JetStream) record.Page {
	t.Helper()
	cons, err := js.OrderedConsumer(ctx, bus.StreamPages, jsOrdered())
	if err != nil {
		t.Fatal(err)
	}
	m, err := cons.Next(fetchWait())
	if err != nil {
		t.Fatal(err)
	}
	var p record.Page
	if err := json.Unmarshal(m.Data(), &p); err != nil {
		t.Fatal(err)
	}
	return p
}
