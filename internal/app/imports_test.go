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

// parsers are the extractors' leaf libraries.
var parsers = []string{"extractor/age", "extractor/handle", "extractor/imagehash", "extractor/indicator", "extractor/phone"}

// allowed lists, for every package of the module, the packages of the
// module it may import (docs/architecture.md); "*" allows any.
var allowed = map[string][]string{
	"internal/record":      {},
	"internal/bus":         {},
	"internal/retry":       {},
	"internal/fetch":       {},
	"internal/progress":    {},
	"internal/site":        {},
	"internal/sim":         {},
	"internal/corpus":      {},
	"internal/leaktest":    {},
	"internal/baseline":    {},
	"internal/synth":       {"extractor/imagehash", "extractor/indicator", "internal/bus", "internal/record", "internal/sim"},
	"internal/bus/bustest": {"internal/bus"},
	"internal/config":      {"internal/site"},
	"extractor/age":        {"internal/record"},
	"extractor/handle":     {"internal/record"},
	"extractor/imagehash":  {"internal/record", "extractor/imagehash/internal/jpeg"},

	"extractor/imagehash/internal/jpeg": {},
	"extractor/indicator":               {"internal/record"},
	"extractor/phone":                   {"internal/record"},
	"crawler":                           {"internal/bus", "internal/fetch", "internal/record", "internal/retry", "internal/site"},
	"extractor":                         append([]string{"internal/bus", "internal/record", "internal/site"}, parsers...),
	"indexer":                           append([]string{"internal/bus", "internal/record"}, parsers...),
	"alerts":                            append([]string{"internal/bus", "internal/record"}, parsers...),
	"alerts/digest":                     {"alerts", "internal/bus", "internal/record", "internal/retry"},
	"report":                            {"indexer", "internal/config", "internal/record"},
	"web":                               append([]string{"alerts", "audit", "auth", "cases", "indexer", "internal/bus", "internal/config", "internal/record", "report"}, parsers...),
	"auth":                              {"internal/bus"},
	"audit":                             {},
	"cases":                             {"indexer", "internal/bus", "internal/record", "report"},
	"evidence":                          {"internal/bus", "internal/record"},
	"retention":                         {"alerts", "audit", "cases", "indexer", "internal/bus", "internal/record"},
	"internal/app":                      {"*"},
	"cmd/adwatch":                       {"*"},
	// A module of its own (the Kubernetes manifests' validator, run by
	// cmd/adwatch's deploy tests), which imports nothing of adwatch.
	"deploy/k8s/validate": {},
}

// TestImportRules checks the arrows of docs/architecture.md: every package
// imports only what its row allows (the records and the parsers are
// leaves, the alert rules never see the index, a stage talks to the
// others only through NATS), only the indexer uses bleve and only the
// crawler colly (besides internal/baseline, the plain libraries chained
// that adwatch bench measures the pipeline against), and nothing but the
// command imports the composition root.
func TestImportRules(t *testing.T) {
	deps := imports(t)
	if len(deps) < 15 {
		t.Fatalf("found %d packages; the walk is broken", len(deps))
	}
	for dir, list := range deps {
		rule, ok := allowed[dir]
		if !ok {
			t.Errorf("package %s has no import rule: add it to allowed here and to docs/architecture.md", dir)
			continue
		}
		for _, p := range list {
			switch {
			case strings.HasPrefix(p, module):
				own := strings.TrimPrefix(p, module)
				if own == "internal/app" && dir != "cmd/adwatch" {
					t.Errorf("%s imports %s: only the command uses the composition root", dir, p)
				} else if !slices.Contains(rule, "*") && !slices.Contains(rule, own) {
					t.Errorf("%s imports %s: not in its rule %v (docs/architecture.md)", dir, own, rule)
				}
			case strings.Contains(p, "blevesearch") && dir != "indexer" && dir != "internal/baseline":
				t.Errorf("%s imports %s: only indexer uses bleve (and internal/baseline, the plain libraries adwatch bench compares with)", dir, p)
			case strings.Contains(p, "gocolly") && dir != "crawler" && dir != "internal/baseline":
				t.Errorf("%s imports %s: only crawler uses colly (and internal/baseline, the plain libraries adwatch bench compares with)", dir, p)
			}
		}
	}
}
