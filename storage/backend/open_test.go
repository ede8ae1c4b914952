package backend_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certbound/certbound/storage"
	"github.com/certbound/certbound/storage/backend"
	"github.com/certbound/certbound/storage/postgres"
	"github.com/certbound/certbound/storage/postgres/pgtest"
)

func TestOpenSQLite(t *testing.T) {
	dir := t.TempDir()
	store, err := backend.Open(t.Context(), backend.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	fi, err := os.Stat(filepath.Join(dir, backend.SQLiteFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("the SQLite file has mode %04o, want 0600", fi.Mode().Perm())
	}
	if _, ok := store.(storage.ChangeFeed); ok {
		t.Error("SQLite has one writer: it must not claim a change feed")
	}
	if err := store.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestOpenPostgreSQL(t *testing.T) {
	url := pgtest.URL(t)
	cfg := backend.Config{Database: url, PoolSize: 2}

	// Without migrations an empty database is refused, naming the command.
	if _, err := backend.Open(t.Context(), cfg); !errors.Is(err, postgres.ErrSchemaBehind) {
		t.Fatalf("Open without Migrate on an empty database: %v, want ErrSchemaBehind", err)
	} else if !strings.Contains(err.Error(), "certbound migrate") {
		t.Errorf("the refusal does not say what to run: %v", err)
	}
	if err := backend.Migrate(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	store, err := backend.Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for name, ok := range map[string]bool{
		"ChangeFeed": implements[storage.ChangeFeed](store),
		"SharedCA":   implements[storage.SharedCA](store),
		"Clock":      implements[storage.Clock](store),
	} {
		if !ok {
			t.Errorf("the PostgreSQL store does not implement storage.%s", name)
		}
	}
	if err := store.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func implements[I any](v any) bool {
	_, ok := v.(I)
	return ok
}

// TestOpenErrorsHideThePassword: a server that does not answer, with a
// password in the URL: the error says which database, without the password.
func TestOpenErrorsHideThePassword(t *testing.T) {
	const pw = "n0t-f0r-l0gs"
	for _, db := range []string{
		"postgres://certbound:" + pw + "@127.0.0.1:1/certbound?sslmode=disable&connect_timeout=1",
		"host=127.0.0.1 port=1 user=certbound password=" + pw + " dbname=certbound sslmode=disable connect_timeout=1",
	} {
		_, err := backend.Open(t.Context(), backend.Config{Database: db, PoolSize: 1})
		if err == nil {
			t.Fatal("Open of a closed port succeeded")
		}
		if strings.Contains(err.Error(), pw) {
			t.Fatalf("the error holds the password: %v", err)
		}
		if !errors.Is(err, storage.ErrUnavailable) {
			t.Errorf("a server that does not answer: %v, want storage.ErrUnavailable", err)
		}
		if err := backend.Migrate(t.Context(), backend.Config{Database: db}); err == nil || strings.Contains(err.Error(), pw) {
			t.Fatalf("Migrate error %v: want one without the password", err)
		}
	}
}
