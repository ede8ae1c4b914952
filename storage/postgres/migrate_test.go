package postgres_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/certbound/certbound/storage/postgres"
	"github.com/certbound/certbound/storage/postgres/pgtest"
)

// Three replicas starting at the same moment on an empty database all come
// up: one migrates under the advisory lock, the others wait for it and find
// the schema current.
func TestMigrateConcurrentOpen(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	start := make(chan struct{})
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			db, err := postgres.Open(ctx, url, postgres.Options{PoolSize: 2, Migrate: true})
			if err == nil {
				err = db.Ping(ctx)
				db.Close()
			}
			errs[i] = err
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: Open: %v", i, err)
		}
	}
	if got, want := schemaRows(t, url), postgres.SchemaVersion(); got != want {
		t.Errorf("%d migrations recorded, want %d (each once)", got, want)
	}
}

// schemaRows counts the rows of the schema version table.
func schemaRows(t testing.TB, url string) int {
	t.Helper()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM certbound_schema_version`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func execOn(t testing.TB, url, sql string, args ...any) {
	t.Helper()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func TestMigrateRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		prepare func(t *testing.T, url string) // the database before Open
		migrate bool
		want    error
	}{
		{"accept/empty database, migrating", func(*testing.T, string) {}, true, nil},
		{"accept/current schema, not migrating", func(t *testing.T, url string) {
			if err := postgres.Migrate(ctx, url); err != nil {
				t.Fatal(err)
			}
		}, false, nil},
		{"accept/current schema, migrating again changes nothing", func(t *testing.T, url string) {
			if err := postgres.Migrate(ctx, url); err != nil {
				t.Fatal(err)
			}
		}, true, nil},
		{"reject/empty database, not migrating", func(*testing.T, string) {}, false, postgres.ErrSchemaBehind},
		{"reject/schema behind, not migrating", func(t *testing.T, url string) {
			if err := postgres.Migrate(ctx, url); err != nil {
				t.Fatal(err)
			}
			execOn(t, url, `DELETE FROM certbound_schema_version WHERE version = $1`, postgres.SchemaVersion())
		}, false, postgres.ErrSchemaBehind},
		{"reject/newer schema, migrating", newerSchema, true, postgres.ErrSchemaNewer},
		{"reject/newer schema, not migrating", newerSchema, false, postgres.ErrSchemaNewer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url := pgtest.URL(t)
			tt.prepare(t, url)
			db, err := postgres.Open(ctx, url, postgres.Options{PoolSize: 2, Migrate: tt.migrate})
			if err == nil {
				db.Close()
			}
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Open(Migrate: %v) = %v, want %v", tt.migrate, err, tt.want)
			}
		})
	}
}

// newerSchema makes the database look migrated by a later certbound.
func newerSchema(t *testing.T, url string) {
	if err := postgres.Migrate(ctx, url); err != nil {
		t.Fatal(err)
	}
	execOn(t, url, `INSERT INTO certbound_schema_version (version, name, applied_at) VALUES ($1, 'from_the_future.sql', 0)`,
		postgres.SchemaVersion()+1)
}

func TestMigrateRefusesNewerSchema(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	newerSchema(t, url)
	if err := postgres.Migrate(ctx, url); !errors.Is(err, postgres.ErrSchemaNewer) {
		t.Fatalf("Migrate on a newer schema = %v, want ErrSchemaNewer", err)
	}
}
