// Package examples_test checks what the example services' help shows.
package examples_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// flagDefiners are the flag package's methods whose string arguments
// include a usage text.
var flagDefiners = map[string]bool{
	"Bool": true, "BoolVar": true, "BoolFunc": true, "Duration": true, "DurationVar": true,
	"Float64": true, "Float64Var": true, "Func": true, "Int": true, "IntVar": true, "Int64": true,
	"Int64Var": true, "String": true, "StringVar": true, "TextVar": true, "Uint": true, "UintVar": true,
	"Uint64": true, "Uint64Var": true, "Var": true,
}

// TestNoUsageStringHasABackquotedPhrase: the flag package takes the first
// `quoted` phrase of a usage text as the value's name, so "as `certbound
// serve --issuer`" printed as "-issuer certbound serve --issuer". Every
// flag defined under cmd/examples must read cleanly in -h.
func TestNoUsageStringHasABackquotedPhrase(t *testing.T) {
	fset := token.NewFileSet()
	checked := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || !flagDefiners[sel.Sel.Name] {
				return true
			}
			for _, arg := range call.Args {
				lit, ok := arg.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					continue
				}
				s, err := strconv.Unquote(lit.Value)
				if err != nil {
					continue
				}
				checked++
				if strings.Contains(s, "`") {
					t.Errorf("%s: flag usage %q has a backquote", fset.Position(lit.Pos()), s)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 10 {
		t.Fatalf("checked only %d string arguments of flag definitions", checked)
	}
}
