package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is the pg_advisory_lock key of schema changes: any constant
// that no other program on the database uses ("certbound" in ASCII, 8 bytes).
const migrationLock int64 = 0x6365727462_6f756e

// schemaTable records the migrations applied, one row each; the schema's
// version is the largest.
const schemaTable = "certbound_schema_version"

// ErrSchemaBehind: the database's schema is older than this binary's and
// Open was told not to migrate.
var ErrSchemaBehind = errors.New("postgres: the database schema is behind this binary's; run `certbound migrate` (or serve with --migrate)")

// ErrSchemaNewer: the database was migrated by a newer certbound; this
// binary does not know its schema and refuses to touch it.
var ErrSchemaNewer = errors.New("postgres: the database schema is newer than this binary knows; run a newer certbound")

// Migrate applies the pending migrations to the database at url and
// returns; `certbound migrate` runs it. It logs each migration applied to
// slog.Default. See migrate for the rules.
func Migrate(ctx context.Context, url string) error {
	cfg, err := poolConfig(url, Options{})
	if err != nil {
		return err
	}
	return migrate(ctx, cfg.ConnConfig, slog.Default())
}

// migrationFiles returns the names of the embedded migrations in order;
// migration i+1 is files[i].
func migrationFiles() ([]string, error) {
	entries, err := migrations.ReadDir("migrations")
	if err != nil {
		return nil, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names, nil
}

// SchemaVersion is the schema version this binary knows: the number of
// its migrations.
func SchemaVersion() int {
	names, _ := migrationFiles()
	return len(names)
}

// migrate applies every pending migration, each in a transaction of its
// own that also records its version, holding pg_advisory_lock(migrationLock)
// on a connection of its own for the whole run: of several processes
// starting together on an empty database, one migrates and the others wait
// for the lock, then find nothing left to do. A schema newer than this
// binary knows is refused (ErrSchemaNewer) before anything is changed.
func migrate(ctx context.Context, cfg *pgx.ConnConfig, log *slog.Logger) error {
	names, err := migrationFiles()
	if err != nil {
		return err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", translate(err))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLock); err != nil {
		return fmt.Errorf("postgres: migrate: take the migration lock: %w", translate(err))
	}
	// Closing the connection releases the lock too; unlocking first lets
	// the next waiter go at once.
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLock)

	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+schemaTable+` (
			version    INTEGER PRIMARY KEY,
			name       TEXT NOT NULL,
			applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("postgres: migrate: %w", translate(err))
	}
	version, err := readVersion(ctx, conn)
	if err != nil {
		return err
	}
	if version > len(names) {
		return fmt.Errorf("%w (database %d, binary %d)", ErrSchemaNewer, version, len(names))
	}
	for i := version; i < len(names); i++ {
		body, err := migrations.ReadFile("migrations/" + names[i])
		if err != nil {
			return err
		}
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO `+schemaTable+` (version, name, applied_at) VALUES ($1, $2, $3)`,
				i+1, names[i], time.Now().Unix())
			return err
		})
		if err != nil {
			return fmt.Errorf("postgres: migration %s: %w", names[i], translate(err))
		}
		log.Info("postgres: migration applied", slog.String("migration", names[i]), slog.Int("version", i+1))
	}
	return nil
}

// querier is what readVersion needs of a connection or a pool.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// readVersion returns the schema's version; 0 when no migration ran (not
// even the table exists).
func readVersion(ctx context.Context, q querier) (int, error) {
	var version int
	err := q.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM `+schemaTable).Scan(&version)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42P01" { // undefined_table
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("postgres: read the schema version: %w", translate(err))
	}
	return version, nil
}

// checkSchema fails unless the database's schema is the one this binary
// knows: behind → ErrSchemaBehind, newer → ErrSchemaNewer.
func checkSchema(ctx context.Context, q querier) error {
	version, err := readVersion(ctx, q)
	if err != nil {
		return err
	}
	switch known := SchemaVersion(); {
	case version < known:
		return fmt.Errorf("%w (database %d, binary %d)", ErrSchemaBehind, version, known)
	case version > known:
		return fmt.Errorf("%w (database %d, binary %d)", ErrSchemaNewer, version, known)
	}
	return nil
}
