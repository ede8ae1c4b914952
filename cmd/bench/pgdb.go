package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
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

// pgAdmin is a connection to the server's own database, for creating and
// dropping the bench's databases.
type pgAdmin struct {
	server string
	conn   *pgx.Conn
}

// pgReachTimeout bounds the wait for the server before the PostgreSQL
// loads are skipped.
const pgReachTimeout = 2 * time.Second

func dialPostgres(ctx context.Context, server string) (*pgAdmin, error) {
	ctx, cancel := context.WithTimeout(ctx, pgReachTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		return nil, err
	}
	return &pgAdmin{server: server, conn: conn}, nil
}

// create makes a fresh, empty database certbound_t_bench_<what>_<random>
// (the prefix the tests' databases have, so that a leftover is recognisably
// disposable) and returns its name and URL.
func (a *pgAdmin) create(ctx context.Context, what string) (name, dbURL string, err error) {
	var raw [6]byte
	_, _ = rand.Read(raw[:])
	name = "certbound_t_bench_" + what + "_" + hex.EncodeToString(raw[:])
	if _, err := a.conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", "", fmt.Errorf("create database %s: %w", name, err)
	}
	u, err := url.Parse(a.server)
	if err != nil {
		return "", "", fmt.Errorf("%s is not a postgres:// URL", redactURL(a.server))
	}
	u.Path = "/" + name
	return name, u.String(), nil
}

// drop removes a database create made, with the connections still open to
// it.
func (a *pgAdmin) drop(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := a.conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

func (a *pgAdmin) close() { _ = a.conn.Close(context.Background()) }

// version is the server's version string, for the report.
func (a *pgAdmin) version(ctx context.Context) string {
	var v string
	if err := a.conn.QueryRow(ctx, "SHOW server_version").Scan(&v); err != nil {
		return "?"
	}
	return v
}

// redactURL drops the password from a URL for messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "<unparsable URL>"
	}
	return u.Redacted()
}
