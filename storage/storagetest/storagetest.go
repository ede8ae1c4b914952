// Package storagetest opens real certbound databases for tests: a SQLite
// file in t.TempDir(), closed when the test ends.
package storagetest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/certbound/certbound/storage"
)

// Open returns a migrated database in a fresh temporary directory.
func Open(t testing.TB) *storage.DB {
	t.Helper()
	db, err := storage.Open(context.Background(), filepath.Join(t.TempDir(), "certbound.db"))
	if err != nil {
		t.Fatalf("storagetest: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
