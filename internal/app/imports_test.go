package app_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/adwatch/adwatch/"

// imports returns, per package directory of the module, the packages its
// non-test files import.
func imports(t *testing.T) map[string][]string {
	t.Helper()
	root := "../.."
	out := map[string][]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() && rel != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		dir := filepath.ToSlash(filepath.Dir(rel))
		for _, im := range f.Imports {
			path, _ := strconv.Unquote(im.Path.Value)
			if !slices.Contains(out[dir], path) {
				out[dir] = append(out[dir], path)
			}
		}
		if out[dir] == nil {
			out[dir] = []string{}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestImportRules checks the arrows of docs/architecture.md: the records
// and the extractors' parsers are leaves, the alert rules never see the
// index, only the indexer uses bleve and only the crawler colly, and
// nothing but the command imports the composition root.
func TestImportRules(t *testing.T) {
	deps := imports(t)
	if len(deps) < 15 {
		t.Fatalf("found %d packages; the walk is broken", len(deps))
	}
	own := func(p string) bool { return strings.HasPrefix(p, module) }
	for dir, list := range deps {
		for _, p := range list {
			switch {
			case dir == "internal/record" && own(p):
				t.Errorf("%s imports %s: the records import no adwatch package", dir, p)
			case slices.Contains([]string{"extractor/age", "extractor/handle", "extractor/imagehash", "extractor/indicator", "extractor/phone"}, dir) &&
				own(p) && p != module+"internal/record":
				t.Errorf("%s imports %s: a parser is a leaf library (records only)", dir, p)
			case strings.HasPrefix(dir, "alerts") && (p == module+"indexer" || p == module+"report" || strings.Contains(p, "bleve")):
				t.Errorf("%s imports %s: the alert rules and digests never read the index", dir, p)
			case strings.Contains(p, "blevesearch") && dir != "indexer":
				t.Errorf("%s imports %s: only indexer uses bleve", dir, p)
			case strings.Contains(p, "gocolly") && dir != "crawler":
				t.Errorf("%s imports %s: only crawler uses colly", dir, p)
			case p == module+"internal/app" && dir != "cmd/adwatch":
				t.Errorf("%s imports %s: only the command uses the composition root", dir, p)
			case own(p) && slices.Contains([]string{"crawler", "extractor", "indexer", "alerts", "alerts/digest"}, dir) &&
				slices.Contains([]string{module + "web", module + "report", module + "crawler", module + "internal/app"}, p):
				t.Errorf("%s imports %s: a stage talks to the others only through NATS", dir, p)
			}
		}
	}
}
