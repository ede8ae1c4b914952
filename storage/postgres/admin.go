package postgres

import (
	"context"
	"fmt"
	"net/url"
	"regexp"

	"github.com/jackc/pgx/v5"
)

// Admin is a connection to a PostgreSQL server's maintenance database, for
// tools that create and drop whole scratch databases (the benchmark). The
// server itself never does either.
type Admin struct {
	server string
	conn   *pgx.Conn
}

// databaseName is what Admin accepts as a database name: a plain lower-case
// identifier, so it can be spliced into CREATE/DROP DATABASE unquoted.
var databaseName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// DialAdmin connects to the database server names (a postgres:// URL).
func DialAdmin(ctx context.Context, server string) (*Admin, error) {
	if _, err := url.Parse(server); err != nil {
		return nil, fmt.Errorf("postgres: the server must be a postgres:// URL")
	}
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		return nil, translate(err)
	}
	return &Admin{server: server, conn: conn}, nil
}

// CreateDatabase creates an empty database and returns its URL: the
// server's URL with the database replaced.
func (a *Admin) CreateDatabase(ctx context.Context, name string) (string, error) {
	if !databaseName.MatchString(name) {
		return "", fmt.Errorf("postgres: %q is not a plain database name", name)
	}
	if _, err := a.conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("postgres: create database %s: %w", name, translate(err))
	}
	u, err := url.Parse(a.server)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

// DropDatabase drops a database, ending the connections still open to it.
func (a *Admin) DropDatabase(ctx context.Context, name string) error {
	if !databaseName.MatchString(name) {
		return fmt.Errorf("postgres: %q is not a plain database name", name)
	}
	if _, err := a.conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("postgres: drop database %s: %w", name, translate(err))
	}
	return nil
}

// ServerVersion is the server's version string ("?" when it cannot be read).
func (a *Admin) ServerVersion(ctx context.Context) string {
	var v string
	if err := a.conn.QueryRow(ctx, "SHOW server_version").Scan(&v); err != nil {
		return "?"
	}
	return v
}

// Close closes the connection.
func (a *Admin) Close() { _ = a.conn.Close(context.Background()) }
