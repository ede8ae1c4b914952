package backend

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/certbound/certbound/storage"
	"github.com/certbound/certbound/storage/postgres"
	"github.com/certbound/certbound/storage/sqlite"
)

// SQLiteFile is the SQLite database's file name inside the data dir.
const SQLiteFile = "certbound.db"

// Config names the database and how to open it.
type Config struct {
	// Database is the --database string (Parse). Zero: SQLite at
	// DataDir/SQLiteFile.
	Database string
	// DataDir holds the SQLite file. Unused on PostgreSQL.
	DataDir string
	// PoolSize is the PostgreSQL connection pool's size per process. Zero:
	// postgres.DefaultPoolSize (10). Unused on SQLite, whose pools are fixed.
	PoolSize int32
	// Migrate applies pending PostgreSQL migrations at Open (under an
	// advisory lock: replicas starting together migrate once). False never
	// migrates and refuses a schema behind the binary's (run `certbound
	// migrate`). SQLite, embedded and owned by one process, always brings its
	// file up to date at Open.
	Migrate bool
	// Logger receives the backend's own messages (reconnects, migrations).
	// Zero: none.
	Logger *slog.Logger
}

// Open opens the store cfg names. On PostgreSQL the result also implements
// storage.ChangeFeed, storage.SharedCA and storage.Clock.
func Open(ctx context.Context, cfg Config) (storage.Store, error) {
	kind, err := Parse(cfg.Database)
	if err != nil {
		return nil, err
	}
	if kind == SQLite {
		return sqlite.Open(ctx, filepath.Join(cfg.DataDir, SQLiteFile))
	}
	db, err := postgres.Open(ctx, cfg.Database, postgres.Options{PoolSize: cfg.PoolSize, Migrate: cfg.Migrate, Logger: cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("open the PostgreSQL database %s: %w", Redacted(cfg.Database), err)
	}
	return db, nil
}

// Migrate brings the schema of the database cfg names up to date and
// closes it (`certbound migrate`). On SQLite that is opening the file.
func Migrate(ctx context.Context, cfg Config) error {
	kind, err := Parse(cfg.Database)
	if err != nil {
		return err
	}
	if kind == SQLite {
		db, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, SQLiteFile))
		if err != nil {
			return err
		}
		return db.Close()
	}
	if err := postgres.Migrate(ctx, cfg.Database); err != nil {
		return fmt.Errorf("migrate the PostgreSQL database %s: %w", Redacted(cfg.Database), err)
	}
	return nil
}
