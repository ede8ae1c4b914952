package sqlite_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// statusWrites matches SQL that can change what the status cache holds: a
// client record, a certificate's revocation or suspect mark, or the
// existence of a certificate record.
// (admin_keys.revoked_at is not one: admin keys are not in the status cache.)
var statusWrites = regexp.MustCompile(`(?i)(UPDATE\s+clients|DELETE\s+FROM\s+clients|INSERT\s+INTO\s+clients|UPDATE\s+certificates\s[^\x60]*revoked_at\s*=|clone_suspect_of\s*=|DELETE\s+FROM\s+certificates)`)

// TestStatusWritesInvalidateTheCache keeps statuscache.go's promise without
// anyone having to remember it: every function of the package whose SQL can
// change a client, revoke a certificate or delete certificate records calls
// db.cache.invalidate().
func TestStatusWritesInvalidateTheCache(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			body := string(src[fset.Position(fn.Body.Pos()).Offset:fset.Position(fn.Body.End()).Offset])
			if !statusWrites.MatchString(body) {
				continue
			}
			checked++
			if !strings.Contains(body, "db.cache.invalidate()") {
				t.Errorf("%s: %s writes %q but does not call db.cache.invalidate()", name, fn.Name.Name, statusWrites.FindString(body))
			}
		}
	}
	if checked < 6 {
		t.Fatalf("found only %d writing functions; is the pattern still right?", checked)
	}
}
