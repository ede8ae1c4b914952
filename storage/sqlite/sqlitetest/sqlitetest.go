// Package sqlitetest opens real SQLite databases for tests: a migrated file
// in t.TempDir(), closed when the test ends. It is imported by tests only.
package sqlitetest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/certbound/certbound/storage/sqlite"
)

// Open returns a migrated database in a fresh temporary directory.
func Open(t testing.TB) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "certbound.db"))
	if err != nil {
		t.Fatalf("sqlitetest: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
