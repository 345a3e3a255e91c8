package storage

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// sqlStatement matches a string that starts or holds a SQL statement.
var sqlStatement = regexp.MustCompile(`(^|\s|\()(SELECT|INSERT INTO|ALTER TABLE|CREATE (TABLE|DATABASE)|DROP (TABLE|DATABASE)|SET [a-z_]+ =)\s`)

// sqlPlaces are where SQL text may be written, relative to the module's
// root: the package's sql_*.go files, and the packages that set up
// ClickHouse for tests (chserver, chtest) or write generated test data
// (storagetest). examples/ are the demo's functions, which describe their
// own database calls in span attributes.
func sqlPlace(path string) bool {
	return (filepath.Dir(path) == "storage" && strings.HasPrefix(filepath.Base(path), "sql_")) ||
		strings.HasPrefix(path, "storage/chserver/") || strings.HasPrefix(path, "storage/chtest/") ||
		strings.HasPrefix(path, "storage/storagetest/") || strings.HasPrefix(path, "examples/")
}

// TestSQLIsInOnePlace holds storage/README.md's promise: no Go file of the
// module but tests writes SQL text outside the places sqlPlace names, and
// no .sql file lies outside storage.
func TestSQLIsInOnePlace(t *testing.T) {
	root := ".."
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			switch name := d.Name(); {
			case path != root && strings.HasPrefix(name, "."),
				name == "node_modules", name == "testdata", name == "vendor", name == "dist":
				return filepath.SkipDir
			}
			return nil
		}
		rel = filepath.ToSlash(rel)
		if strings.HasSuffix(path, ".sql") && !strings.HasPrefix(rel, "storage/") {
			t.Errorf("%s: a SQL file outside storage", rel)
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || sqlPlace(rel) {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			if s, err := strconv.Unquote(lit.Value); err == nil && sqlStatement.MatchString(s) {
				t.Errorf("%s: SQL text outside storage's sql_*.go files: %.60q", fset.Position(lit.Pos()), s)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatalf("walk the module: %v", err)
	}
}
