package crawler

import (
	"fmt"
	"slices"
	"testing"

	"github.com/adwatch/adwatch/internal/site"
)

// TestHostGroups: sites that share a host, of their pages or of their
// images, directly or through another site, are crawled one after the
// other in one group; sites on other hosts in groups of their own.
func TestHostGroups(t *testing.T) {
	for _, tc := range []struct {
		name  string
		sites []string // base URL, then " " and the image hosts, comma-separated
		want  [][]int
	}{
		{name: "apart", sites: []string{"http://a.example", "http://b.example", "http://c.example"}, want: [][]int{{0}, {1}, {2}}},
		{name: "one host, other ports", sites: []string{"http://127.0.0.1:8089", "http://127.0.0.1:9000", "http://b.example"}, want: [][]int{{0, 1}, {2}}},
		{name: "an image host shared", sites: []string{"http://a.example img.example", "http://b.example", "http://c.example img.example"}, want: [][]int{{0, 2}, {1}}},
		{name: "through another site", sites: []string{"http://a.example x.example", "http://b.example y.example", "http://c.example x.example,y.example"}, want: [][]int{{0, 1, 2}}},
		{name: "none", want: nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var sites []site.Site
			for i, d := range tc.sites {
				var base, images string
				if _, err := fmt.Sscan(d, &base, &images); err != nil && images != "" {
					t.Fatal(err)
				}
				extra := ""
				if images != "" {
					extra = fmt.Sprintf("image_hosts: [%s]\n", images)
				}
				s, err := site.Parse([]byte(fmt.Sprintf("name: s%d\nbase_url: %s\nstart_urls: [\"/\"]\nallowed: ['/$']\nad_pages: ['/ad/']\nfields: {id: {css: article, attr: data-id}}\n%s", i, base, extra)))
				if err != nil {
					t.Fatal(err)
				}
				sites = append(sites, s)
			}
			if got := hostGroups(sites); !slices.EqualFunc(got, tc.want, slices.Equal) {
				t.Errorf("groups %v, want %v", got, tc.want)
			}
		})
	}
}
