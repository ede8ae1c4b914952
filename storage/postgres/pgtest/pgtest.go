package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL is the environment variable naming the server the tests use.
const EnvURL = "CERTBOUND_TEST_POSTGRES"

// DefaultURL is the server used when EnvURL is unset: the local one every
// machine of the project runs (trust authentication).
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// DatabasePrefix starts the name of every database URL creates.
const DatabasePrefix = "certbound_t_"

// reachTimeout bounds the wait for the server before the test is skipped.
const reachTimeout = 2 * time.Second

// ServerURL returns the URL of the test server: EnvURL, or DefaultURL.
func ServerURL() string {
	if u := os.Getenv(EnvURL); u != "" {
		return u
	}
	return DefaultURL
}

// URL creates a fresh, empty database for t and returns its URL (the
// server's URL with the database name replaced). The database is dropped
// when t ends. No server → t.Skip with a loud message, or t.Fatal under
// CI=true.
func URL(t testing.TB) string {
	t.Helper()
	server := ServerURL()
	admin := Admin(t)
	name := DatabasePrefix + randomHex(8)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.Exec(ctx, `CREATE DATABASE `+name); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.Exec(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(server)
	if err != nil {
		t.Fatalf("pgtest: %s is not a postgres:// URL", EnvURL)
	}
	u.Path = "/" + name
	return u.String()
}

// Admin returns a connection to the test server's own database (the one
// ServerURL names), closed when t ends: for the statements a test runs on
// the server itself (ALTER DATABASE, pg_terminate_backend). No server →
// skip or fail, as URL.
func Admin(t testing.TB) *pgx.Conn {
	t.Helper()
	server := ServerURL()
	ctx, cancel := context.WithTimeout(context.Background(), reachTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		unreachable(t, server, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// unreachable skips t loudly, or fails it under CI=true.
func unreachable(t testing.TB, server string, err error) {
	t.Helper()
	msg := fmt.Sprintf("*** PostgreSQL not reachable at %s (%v): the PostgreSQL suite is SKIPPED; set %s ***",
		redact(server), err, EnvURL)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// Terminate ends the server-side connections to the database of dbURL
// whose application_name is app ("" for all of them), as an administrator
// or a crash would, and returns how many it ended.
func Terminate(t testing.TB, dbURL, app string) int {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	name := u.Path[1:]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var n int
	err = Admin(t).QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = $1 AND ($2 = '' OR application_name = $2) AND pid <> pg_backend_pid()`, name, app).Scan(&n)
	if err != nil {
		t.Fatalf("pgtest: terminate: %v", err)
	}
	return n
}

// redact drops the password from a URL for a message.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable " + EnvURL + ")"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
