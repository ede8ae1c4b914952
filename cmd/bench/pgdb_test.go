package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestPostgresDatabaseLifecycle: every run's database is new, empty,
// reachable at the URL create returns, named so that it is recognisably
// disposable, and gone after drop even with a connection still open to it.
func TestPostgresDatabaseLifecycle(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	server := pgServer(os.Getenv("CERTBOUND_TEST_POSTGRES"))
	admin, err := dialPostgres(ctx, server)
	if err != nil {
		msg := "*** PostgreSQL not reachable at " + redactURL(server) + ": SKIPPED; set CERTBOUND_TEST_POSTGRES ***"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	defer admin.close()
	name, dbURL, err := admin.create(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(name, "certbound_t_bench_test_") {
		t.Errorf("name %q: want the certbound_t_bench_ prefix", name)
	}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("connect to the new database: %v", err)
	}
	defer conn.Close(context.Background())
	var db string
	var tables int
	if err := conn.QueryRow(ctx, `SELECT current_database(), (SELECT count(*) FROM pg_tables WHERE schemaname = 'public')`).Scan(&db, &tables); err != nil {
		t.Fatal(err)
	}
	if db != name || tables != 0 {
		t.Errorf("connected to %q with %d tables, want %q, empty", db, tables, name)
	}
	if err := admin.drop(name); err != nil { // conn is still open: WITH (FORCE)
		t.Fatal(err)
	}
	server2, err := pgx.Connect(ctx, server)
	if err != nil {
		t.Fatal(err)
	}
	defer server2.Close(context.Background())
	var n int
	if err := server2.QueryRow(ctx, `SELECT count(*) FROM pg_database WHERE datname = $1`, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("database %s still exists after drop", name)
	}
}
