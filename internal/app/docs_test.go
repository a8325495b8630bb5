package app_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// TestEveryPackageAndExportedNameDocumented fails when a package has no
// package doc or an exported name has no doc comment.
func TestEveryPackageAndExportedNameDocumented(t *testing.T) {
	root := "../.."
	dirs := map[string]bool{}
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(root, p)
		if err == nil && strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") && !strings.HasPrefix(rel, ".") && !strings.Contains(rel, "/.") {
			dirs[filepath.Dir(p)] = true
		}
		return nil
	})
	if len(dirs) < 15 {
		t.Fatalf("found %d package directories; the walk is broken", len(dirs))
	}
	for dir := range dirs {
		fset := token.NewFileSet()
		//lint:ignore SA1019 ignoring build tags is what this check wants (every file needs its docs); go/packages would add a dependency for nothing
		pkgs, err := parser.ParseDir(fset, dir, func(fi fs.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for name, pkg := range pkgs {
			hasDoc := false
			for _, f := range pkg.Files {
				hasDoc = hasDoc || f.Doc != nil
				for _, decl := range f.Decls {
					switch d := decl.(type) {
					case *ast.FuncDecl:
						if d.Name.IsExported() && d.Doc == nil && (d.Recv == nil || exportedRecv(d.Recv)) {
							t.Errorf("%s: func %s has no doc comment", dir, d.Name.Name)
						}
					case *ast.GenDecl:
						for _, spec := range d.Specs {
							if ts, ok := spec.(*ast.TypeSpec); ok && ts.Name.IsExported() && d.Doc == nil && ts.Doc == nil {
								t.Errorf("%s: type %s has no doc comment", dir, ts.Name.Name)
							}
						}
					}
				}
			}
			if !hasDoc && name != "main" {
				t.Errorf("%s: package %s has no package doc", dir, name)
			}
		}
	}
}

func exportedRecv(fl *ast.FieldList) bool {
	if len(fl.List) == 0 {
		return false
	}
	typ := fl.List[0].Type
	if s, ok := typ.(*ast.StarExpr); ok {
		typ = s.X
	}
	id, ok := typ.(*ast.Ident)
	return ok && id.IsExported()
}
