package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/puddle/v2"

	"github.com/certbound/certbound/storage"
)

// DefaultPoolSize is the pool size when Options.PoolSize is zero.
const DefaultPoolSize = 10

// Options configure Open. The zero value is a pool of DefaultPoolSize
// connections that refuses a schema behind this binary's.
type Options struct {
	// PoolSize is the most connections the pool holds (pgxpool's MaxConns).
	// Zero means DefaultPoolSize. Each DB opens one more connection of its
	// own for notifications; see the package doc for the sizing rule.
	PoolSize int32
	// Migrate applies pending migrations at Open (under an advisory lock, so
	// replicas starting together migrate once). False: Open fails when the
	// schema is behind; run `certbound migrate`.
	Migrate bool
	// Logger receives the listener's reconnects, the clock offset and the
	// migrations applied. Nil: nothing is logged. The database URL and every
	// value of a row stay out of it.
	Logger *slog.Logger
}

// connectTimeout bounds one connection attempt when the URL sets none
// (connect_timeout): a server that does not answer fails fast with
// storage.ErrUnavailable instead of holding the request.
const connectTimeout = 5 * time.Second

// DB is the certbound database on PostgreSQL, shared by every replica. It is
// safe for concurrent use.
type DB struct {
	pool     *pgxpool.Pool
	listenTo *pgx.ConnConfig // the listener's connection: the pool's, with its own application_name
	log      *slog.Logger
	cache    statusCache
	feed     feed
	clock    clock

	listenerPID atomic.Uint32 // the listener's server process, for tests

	stop     context.CancelFunc // ends the background goroutines
	wg       sync.WaitGroup
	closeOne sync.Once
}

var (
	_ storage.Store      = (*DB)(nil)
	_ storage.ChangeFeed = (*DB)(nil)
	_ storage.SharedCA   = (*DB)(nil)
	_ storage.Clock      = (*DB)(nil)
)

// Open connects to the database at url (postgres://, postgresql:// or a
// libpq key=value string), checks or applies the schema (Options.Migrate),
// measures the offset to the server's clock, and starts listening for the
// changes other replicas make. The listener is up when Open returns.
func Open(ctx context.Context, url string, opts Options) (*DB, error) {
	cfg, err := poolConfig(url, opts)
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Migrate {
		if err := migrate(ctx, cfg.ConnConfig, log); err != nil {
			return nil, err
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", translate(err))
	}
	if err := checkSchema(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	listenTo := cfg.ConnConfig.Copy()
	listenTo.RuntimeParams["application_name"] = listenerApplicationName
	db := &DB{pool: pool, listenTo: listenTo, log: log}
	if err := db.clock.measure(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	log.Info("postgres: clock offset to the database server", slog.Duration("offset", db.clock.offset()))
	bg, stop := context.WithCancel(context.Background())
	db.stop = stop
	if err := db.startListener(ctx, bg); err != nil {
		stop()
		pool.Close()
		return nil, err
	}
	db.wg.Add(1)
	go func() {
		defer db.wg.Done()
		db.clock.run(bg, pool, log)
	}()
	return db, nil
}

// poolConfig parses url and sets what Open promises: the pool size, a
// connect timeout, and an application_name that tells certbound's
// connections apart in pg_stat_activity.
func poolConfig(url string, opts Options) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgconn's ParseConfigError redacts the password.
		return nil, fmt.Errorf("postgres: %w", err)
	}
	size := opts.PoolSize
	if size <= 0 {
		size = DefaultPoolSize
	}
	cfg.MaxConns = size
	if cfg.MinConns > size {
		cfg.MinConns = size
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = connectTimeout
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = poolApplicationName
	}
	return cfg, nil
}

// application_name of the pool's connections and of the listener's (tests
// find the listener by it to terminate it).
const (
	poolApplicationName     = "certbound"
	listenerApplicationName = "certbound-listener"
)

// Close stops the listener and the clock, and closes the pool; nothing may
// be called afterwards.
func (db *DB) Close() error {
	db.closeOne.Do(func() {
		db.stop()
		db.wg.Wait()
		db.feed.closeAll()
		db.pool.Close()
	})
	return nil
}

// Ping reports whether the database answers now (GET /v1/ready): one query
// on a pooled connection (a fresh one if the pooled one was dropped).
func (db *DB) Ping(ctx context.Context) error {
	var one int
	return db.queryRow(ctx, `SELECT 1`, nil, &one)
}

// queryRow runs a read of one row into dest, with the retries of retry:
// no row → storage.ErrNotFound.
func (db *DB) queryRow(ctx context.Context, sql string, args []any, dest ...any) error {
	return db.retry(ctx, func() error { return db.pool.QueryRow(ctx, sql, args...).Scan(dest...) })
}

// query runs a read of many rows, with the retries of retry: start is
// called before each attempt (to forget the rows of a failed one), then
// scan once per row.
func (db *DB) query(ctx context.Context, sql string, args []any, start func(), scan func(pgx.Rows) error) error {
	return db.retry(ctx, func() error {
		start()
		rows, err := db.pool.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	})
}

// Stat returns the pool's statistics (connections open, idle, waited for).
func (db *DB) Stat() *pgxpool.Stat { return db.pool.Stat() }

// Transactions that fail because of another one running at the same time
// (40001, 40P01) run again, up to maxAttempts in all, after a short jittered
// pause; see retryable.
const maxAttempts = 5

// inTx runs fn in a transaction (READ COMMITTED; the statements take the row
// locks they need), committing when fn returns nil and rolling back
// otherwise. It runs fn again when the transaction failed with a
// serialization failure or a deadlock: fn must do nothing outside the
// transaction that it cannot do twice.
func (db *DB) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return db.retry(ctx, func() error { return db.tryTx(ctx, fn) })
}

func (db *DB) tryTx(ctx context.Context, fn func(pgx.Tx) error) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return err
	}
	// After a commit Rollback does nothing. A rollback that fails (the
	// caller's ctx ended, the connection broke) makes pgx close the
	// connection instead of returning it to the pool.
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = tx.Rollback(rctx)
	}()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return commitError{err}
	}
	return nil
}

// commitError: COMMIT itself failed. If the connection broke meanwhile,
// whether the transaction committed is unknown, so it is not run again
// for that (a serialization failure at COMMIT still is: nothing committed).
type commitError struct{ err error }

func (e commitError) Error() string { return e.err.Error() }
func (e commitError) Unwrap() error { return e.err }

// retry runs attempt until it succeeds or fails for good, at most
// maxAttempts times, and returns the translated error. It runs attempt
// again
//   - at once, after resetting the pool, when the connection it got from the
//     pool turned out to be dropped by the server (a restart, a failover,
//     pg_terminate_backend) and nothing was committed (see droppedConn):
//     the pool's other idle connections are most likely dead too;
//   - after a short jittered pause, when it failed with a serialization
//     failure or a deadlock (retryable), or its statement never reached the
//     server (pgconn.SafeToRetry).
//
// A server that refuses new connections fails at once (no retry): the
// caller gets storage.ErrUnavailable.
func (db *DB) retry(ctx context.Context, attempt func() error) error {
	var err error
	for i := 1; ; i++ {
		if err = attempt(); err == nil {
			return nil
		}
		if i == maxAttempts || ctx.Err() != nil {
			return translate(err)
		}
		switch {
		case droppedConn(err):
			db.pool.Reset()
			continue
		case retryable(err), pgconn.SafeToRetry(err):
		default:
			return translate(err)
		}
		// 2–6 ms, 4–12 ms, …: long enough for the transaction that won to
		// commit, short enough not to be felt.
		pause := time.Duration(i) * (2*time.Millisecond + rand.N(4*time.Millisecond))
		select {
		case <-ctx.Done():
			return translate(err)
		case <-time.After(pause):
		}
	}
}

// droppedConn reports whether err says that an established connection was
// lost (not that a new one could not be made, nor that the pool is closed),
// before any COMMIT was sent on it.
func droppedConn(err error) bool {
	var ce *pgconn.ConnectError
	var commit commitError
	return unavailable(err) && !errors.As(err, &ce) && !errors.As(err, &commit) && !errors.Is(err, puddle.ErrClosedPool) &&
		!errors.Is(err, context.DeadlineExceeded)
}

// exec runs one statement on its own (an implicit transaction), with the
// retries of retry, and returns the rows it affected. Every statement run
// through it may run twice (a connection lost after the server committed
// but before it answered): it must be idempotent or harmless to repeat.
func (db *DB) exec(ctx context.Context, sql string, args ...any) (int64, error) {
	var n int64
	err := db.retry(ctx, func() error {
		tag, err := db.pool.Exec(ctx, sql, args...)
		n = tag.RowsAffected()
		return err
	})
	return n, err
}

// notify tells every replica's listener, at the commit of tx, that kind
// changed (storage.ChangeFeed). Within one transaction PostgreSQL sends a
// payload once, however often it is notified.
func notify(ctx context.Context, tx pgx.Tx, kinds ...storage.ChangeKind) error {
	for _, k := range kinds {
		if _, err := tx.Exec(ctx, `SELECT pg_notify('`+notifyChannel+`', $1)`, string(k)); err != nil {
			return err
		}
	}
	return nil
}

// expectOne turns "no row affected" into storage.ErrNotFound.
func expectOne(n int64, err error) error {
	if err != nil {
		return err
	}
	if n == 0 {
		return storage.ErrNotFound
	}
	return nil
}
