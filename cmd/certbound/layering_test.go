package main_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/certbound/certbound"

type pkgInfo struct {
	ImportPath string
	Imports    []string // direct, non-test
	Deps       []string // transitive, non-test
}

func listPackages(t *testing.T) []pkgInfo {
	t.Helper()
	cmd := exec.Command("go", "list", "-e", "-json=ImportPath,Imports,Deps", module+"/...")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkgInfo
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkgInfo
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func rel(p string) string { return strings.TrimPrefix(strings.TrimPrefix(p, module), "/") }

func under(p string, prefixes ...string) bool {
	for _, pre := range prefixes {
		if p == pre || strings.HasPrefix(p, pre+"/") {
			return true
		}
	}
	return false
}

// TestLayering keeps the import rules of ARCHITECTURE.md true without anyone
// having to remember them.
func TestLayering(t *testing.T) {
	pkgs := listPackages(t)
	if len(pkgs) < 10 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	sdk := []string{"enroll/enrollclient", "tokenex/tokenclient", "tokenex/verify"}
	// The only third-party modules each SDK may pull in, so that embedding it
	// costs a service nothing else.
	sdkThirdParty := map[string][]string{
		"enroll/enrollclient":       nil,
		"tokenex/tokenclient":       {"golang.org/x/oauth2"},
		"tokenex/verify":            {"github.com/golang-jwt/jwt/v5"},
		"tokenex/verify/verifyecho": {"github.com/golang-jwt/jwt/v5", "github.com/labstack/", "golang.org/x/", "github.com/mattn/", "github.com/valyala/"},
	}
	testHelpers := []string{"ca/catest", "storage/storagetest", "storage/sqlite/sqlitetest", "storage/postgres/pgtest",
		"cmd/certbound/internal/server/servertest"}
	// The backends. Above storage, only the packages that open a store or do
	// what one backend alone can (backup, the benchmark seed) may name one;
	// everything else talks to storage.Store.
	backends := []string{"storage/sqlite", "storage/postgres"}
	backendUsers := []string{"storage/backend", "cmd/certbound/internal/backup", "cmd/bench"}
	for _, p := range pkgs {
		me := rel(p.ImportPath)
		// R1: storage/backend is the one place that picks a backend: no
		// other package imports both (the server opens its store through it).
		// cmd/bench is the exception: a tool that seeds a stopped server's
		// SQLite file and creates scratch PostgreSQL databases.
		if me != "storage/backend" && me != "cmd/bench" && slices.ContainsFunc(p.Imports, func(i string) bool { return rel(i) == "storage/sqlite" }) &&
			slices.ContainsFunc(p.Imports, func(i string) bool { return rel(i) == "storage/postgres" }) {
			t.Errorf("%s imports both backends: only storage/backend picks one", me)
		}
		for _, imp := range p.Imports {
			dep := rel(imp)
			internal := strings.HasPrefix(imp, module)
			switch {
			// R1: certs and storage are leaves: storage and its backends import
			// only certs and one another (the conformance suite also ca).
			case under(me, "certs", "storage") && !under(me, "storage/storagetest") && internal && !under(dep, "certs", "storage"):
				t.Errorf("%s imports %s: certs and storage import no other certbound package", me, dep)
			// R1: the package storage, what every backend promises, knows no backend.
			case me == "storage" && internal && under(dep, backends...):
				t.Errorf("%s imports %s: storage knows no backend", me, dep)
			// R1: storage/storagetest runs against any backend and names none.
			case under(me, "storage/storagetest") && internal && under(dep, backends...):
				t.Errorf("%s imports %s: the conformance suite names no backend", me, dep)
			// R1: the domain packages and the HTTP edge never name a backend.
			case internal && under(dep, backends...) && !under(me, backends...) && !under(me, backendUsers...) && !under(me, testHelpers...):
				t.Errorf("%s imports the backend %s: use storage.Store", me, dep)
			// R2: enroll and tokenex never import each other.
			case under(me, "enroll") && under(dep, "tokenex"), under(me, "tokenex") && under(dep, "enroll"):
				t.Errorf("%s imports %s: enroll and tokenex are independent", me, dep)
			// R3: echo only at the HTTP edge, the echo adapter and the examples.
			case strings.HasPrefix(imp, "github.com/labstack/echo") &&
				!under(me, "cmd/certbound/internal/httpapi", "tokenex/verify/verifyecho", "cmd/examples"):
				t.Errorf("%s imports echo", me)
			// R3: cobra only in the binary.
			case strings.HasPrefix(imp, "github.com/spf13/cobra") && me != "cmd/certbound":
				t.Errorf("%s imports cobra", me)
			// R3: database/sql and SQLite only in storage/sqlite, pgx only in
			// storage/postgres.
			case (imp == "database/sql" || strings.HasPrefix(imp, "modernc.org/sqlite")) && !under(me, "storage/sqlite"):
				t.Errorf("%s imports %s: only storage/sqlite talks SQLite", me, imp)
			case strings.HasPrefix(imp, "github.com/jackc/") && !under(me, "storage/postgres"):
				t.Errorf("%s imports %s: only storage/postgres talks PostgreSQL", me, imp)
			// R5: test helpers only from tests; nothing imports cmd/certbound internals but the binary.
			case internal && under(dep, testHelpers...) && !under(me, testHelpers...):
				t.Errorf("%s imports the test helper %s outside a test", me, dep)
			case imp == "testing" && !under(me, testHelpers...):
				t.Errorf("%s imports testing outside a test", me)
			case internal && under(dep, "cmd/certbound/internal") && !under(me, "cmd/certbound"):
				t.Errorf("%s imports %s", me, dep)
			}
		}
		// R4: the SDK packages users embed pull in no storage, CA or server code,
		// transitively, and no echo (verifyecho excepted).
		if under(me, sdk...) {
			for _, d := range p.Deps {
				dep := rel(d)
				if strings.HasPrefix(d, module) && !under(dep, "certs") && !under(dep, sdk...) {
					t.Errorf("SDK package %s depends on %s", me, dep)
				}
				if strings.HasPrefix(d, "github.com/labstack/echo") && me != "tokenex/verify/verifyecho" {
					t.Errorf("SDK package %s depends on echo", me)
				}
				if strings.HasPrefix(d, "modernc.org/sqlite") {
					t.Errorf("SDK package %s depends on SQLite", me)
				}
				if !strings.HasPrefix(d, module) && strings.Contains(strings.Split(d, "/")[0], ".") && !hasAnyPrefix(d, sdkThirdParty[me]) {
					t.Errorf("SDK package %s depends on the third-party package %s", me, d)
				}
			}
		}
	}
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
