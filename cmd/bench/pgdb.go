package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"time"

	"github.com/certbound/certbound/storage/postgres"
)

// envPostgres names the PostgreSQL server the bench creates its databases
// on (a postgres:// URL of a role that may CREATE DATABASE).
const envPostgres = "CERTBOUND_BENCH_POSTGRES"

// defaultPostgres is the local server every machine of the project runs.
const defaultPostgres = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// pgServer is the server the PostgreSQL loads run on: -postgres, else
// $CERTBOUND_BENCH_POSTGRES, else the local default.
func pgServer(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	if u := os.Getenv(envPostgres); u != "" {
		return u
	}
	return defaultPostgres
}

// pgAdmin creates and drops the bench's databases on the server
// (storage/postgres.Admin: only storage/postgres talks PostgreSQL).
type pgAdmin struct{ admin *postgres.Admin }

// pgReachTimeout bounds the wait for the server before the PostgreSQL
// loads are skipped.
const pgReachTimeout = 2 * time.Second

func dialPostgres(ctx context.Context, server string) (*pgAdmin, error) {
	ctx, cancel := context.WithTimeout(ctx, pgReachTimeout)
	defer cancel()
	a, err := postgres.DialAdmin(ctx, server)
	if err != nil {
		return nil, err
	}
	return &pgAdmin{admin: a}, nil
}

// create makes a fresh, empty database certbound_t_bench_<what>_<random>
// (the prefix the tests' databases have, so that a leftover is recognisably
// disposable) and returns its name and URL.
func (a *pgAdmin) create(ctx context.Context, what string) (name, dbURL string, err error) {
	var raw [6]byte
	_, _ = rand.Read(raw[:])
	name = "certbound_t_bench_" + what + "_" + hex.EncodeToString(raw[:])
	dbURL, err = a.admin.CreateDatabase(ctx, name)
	return name, dbURL, err
}

// drop removes a database create made, with the connections still open to
// it.
func (a *pgAdmin) drop(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return a.admin.DropDatabase(ctx, name)
}

func (a *pgAdmin) close() { a.admin.Close() }

// version is the server's version string, for the report.
func (a *pgAdmin) version(ctx context.Context) string { return a.admin.ServerVersion(ctx) }

// redactURL drops the password from a URL for messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "<unparsable URL>"
	}
	return u.Redacted()
}
