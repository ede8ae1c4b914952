package postgres_test

import (
	"context"
	"testing"

	"github.com/certbound/certbound/storage/postgres"
	"github.com/certbound/certbound/storage/postgres/pgtest"
)

// testPoolSize keeps each test's footprint small: several test packages
// share the server's max_connections.
const testPoolSize = 3

// open opens a DB (migrating) on url, closed when t ends.
func open(t testing.TB, url string) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), url, postgres.Options{PoolSize: testPoolSize, Migrate: true})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// openFresh opens a DB on a database of its own.
func openFresh(t testing.TB) *postgres.DB {
	t.Helper()
	return open(t, pgtest.URL(t))
}
