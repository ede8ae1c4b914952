package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"time"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/certbound/certbound/storage"
)

// DB is the certbound database. It is safe for concurrent use.
type DB struct {
	write *sql.DB // exactly one connection: SQLite has one writer anyway
	read  *sql.DB // read-only pool
	path  string
	cache statusCache          // clients and revocations, for the hot reads
	stmts map[string]*sql.Stmt // prepared writer statements (stmts.go); nil when read-only
	batch *batcher             // write batches (batch.go); nil when read-only
	ckpt  *checkpointer        // background checkpoints (checkpoint.go); nil when read-only
}

// busyTimeout bounds how long a statement waits for a lock before SQLITE_BUSY.
const busyTimeout = 10 * time.Second

// Open opens (creating, mode 0600, if needed) the database at path, applies
// pending migrations and returns it.
func Open(ctx context.Context, path string) (*DB, error) {
	// Create the file ourselves so that its mode is 0600 from the first byte;
	// SQLite gives the -wal and -shm files the database file's mode.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	f.Close()

	write, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	db := &DB{write: write, path: path}
	if err := db.migrate(ctx); err != nil {
		write.Close()
		return nil, err
	}
	if err := db.prepare(ctx); err != nil {
		write.Close()
		return nil, fmt.Errorf("storage: prepare: %w", err)
	}
	read, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		db.closeStmts()
		write.Close()
		return nil, fmt.Errorf("storage: %w", err)
	}
	n := max(4, 2*runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	read.SetConnMaxLifetime(0)
	db.read = read
	if err := db.startCheckpointer(); err != nil {
		db.closeStmts()
		read.Close()
		write.Close()
		return nil, err
	}
	db.startBatcher()
	return db, nil
}

func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", walBackstopPages))
		q.Set("_txlock", "immediate")
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// Path returns the database file's path.
func (db *DB) Path() string { return db.path }

// Close waits for the write batch in progress, if any, and closes both
// pools. Redemptions and renewals submitted afterwards fail.
func (db *DB) Close() error {
	db.stopBatcher()
	var ckptErr error
	if db.ckpt != nil {
		ckptErr = db.ckpt.stop()
	}
	return errors.Join(ckptErr, db.closeStmts(), db.read.Close(), db.write.Close())
}

// IntegrityCheck runs PRAGMA integrity_check and returns its verdict ("ok").
func (db *DB) IntegrityCheck(ctx context.Context) (string, error) {
	var res string
	err := db.read.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&res)
	return res, err
}

//go:embed migrations/*.sql
var migrations embed.FS

// migrate applies migrations/NNNN_*.sql in order, each in its own
// transaction, tracking progress in PRAGMA user_version.
func (db *DB) migrate(ctx context.Context) error {
	entries, err := migrations.ReadDir("migrations")
	if err != nil {
		return err
	}
	var version int
	if err := db.write.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("storage: read schema version: %w", err)
	}
	if version > len(entries) {
		return fmt.Errorf("storage: database schema version %d is newer than this binary knows (%d)", version, len(entries))
	}
	for i := version; i < len(entries); i++ {
		body, err := migrations.ReadFile("migrations/" + entries[i].Name())
		if err != nil {
			return err
		}
		err = db.inTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", i+1))
			return err
		})
		if err != nil {
			return fmt.Errorf("storage: migration %s: %w", entries[i].Name(), err)
		}
	}
	return nil
}

// inTx runs fn in a write transaction (BEGIN IMMEDIATE), committing when fn
// returns nil and rolling back otherwise.
func (db *DB) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return translate(err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return translate(err)
	}
	db.committed()
	return nil
}

// translate maps SQLite constraint failures onto ErrConflict.
func translate(err error) error {
	if err == nil {
		return nil
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
			return fmt.Errorf("%w: %v", storage.ErrConflict, err)
		}
	}
	return err
}

// BackupTo writes a consistent snapshot of the database at srcPath to
// destPath (which must not exist) with VACUUM INTO, on its own connection:
// it runs while a server is using the database, reads one committed state
// (a read transaction in WAL mode), and blocks no writer.
func BackupTo(ctx context.Context, srcPath, destPath string) error {
	if _, err := os.Stat(srcPath); err != nil {
		return fmt.Errorf("storage: backup: %w", err)
	}
	if _, err := os.Stat(destPath); err == nil {
		return fmt.Errorf("storage: backup: %s already exists", destPath)
	}
	// Not the query_only DSN: SQLite counts writing the INTO file as a write.
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	src, err := sql.Open("sqlite", "file:"+(&url.URL{Path: srcPath}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		return fmt.Errorf("storage: backup: %w", err)
	}
	defer src.Close()
	if _, err := src.ExecContext(ctx, "VACUUM INTO ?", destPath); err != nil {
		return fmt.Errorf("storage: backup: %w", err)
	}
	return os.Chmod(destPath, 0o600)
}

var _ storage.Store = (*DB)(nil)

// Ping reports whether the database answers: one query on the read pool.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	return db.read.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}
