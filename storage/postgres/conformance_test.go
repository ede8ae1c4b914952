package postgres_test

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/certbound/certbound/storage"
	"github.com/certbound/certbound/storage/postgres"
	"github.com/certbound/certbound/storage/postgres/pgtest"
	"github.com/certbound/certbound/storage/storagetest"
)

// The one conformance suite both backends pass. It opens a store per
// subtest, about a hundred, one after the other; a database each would cost
// a CREATE DATABASE (a copy of template1 and its fsyncs) per store, so the
// stores share one migrated database, emptied (every table truncated,
// identities restarted) before each is opened: each is still fresh, empty
// and migrated, as storagetest.Opener asks, and the previous one is closed
// by then (subtests run in turn, each closing its store at its end).
func TestConformance(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	if err := postgres.Migrate(ctx, url); err != nil {
		t.Fatal(err)
	}
	storagetest.Run(t, func(t testing.TB) storage.Store {
		t.Helper()
		empty(t, url)
		db, err := postgres.Open(ctx, url, postgres.Options{PoolSize: testPoolSize})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}

// empty truncates every table of the database at url but the schema
// version's.
func empty(t testing.TB, url string) {
	t.Helper()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT quote_ident(tablename) FROM pg_tables
		WHERE schemaname = 'public' AND tablename <> 'certbound_schema_version'`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(tables) == 0 {
		t.Fatalf("tables to empty: %v, %v", tables, err)
	}
	if _, err := conn.Exec(ctx, `TRUNCATE `+strings.Join(tables, ", ")+` RESTART IDENTITY CASCADE`); err != nil {
		t.Fatal(err)
	}
}
