package postgres

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/certbound/certbound/storage"
	"github.com/certbound/certbound/storage/postgres/pgtest"
)

// The classifier on real errors, produced by real statements on a real
// server: each case makes PostgreSQL (or the network) fail in one way.
func TestTranslateRealErrors(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	db, err := Open(ctx, url, Options{PoolSize: 2, Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.pool.Exec(ctx, `CREATE TABLE t (id int PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		produce     func(t *testing.T) error
		want        error // nil: neither sentinel
		retryable   bool
		unavailable bool
	}{
		{"reject/unique violation is ErrConflict", func(t *testing.T) error {
			_, err := db.pool.Exec(ctx, `INSERT INTO t VALUES (1), (1)`)
			return err
		}, storage.ErrConflict, false, false},
		{"reject/no row is ErrNotFound", func(t *testing.T) error {
			var id int
			return db.pool.QueryRow(ctx, `SELECT id FROM t WHERE id = -1`).Scan(&id)
		}, storage.ErrNotFound, false, false},
		{"reject/syntax error is neither", func(t *testing.T) error {
			_, err := db.pool.Exec(ctx, `SELEC 1`)
			return err
		}, nil, false, false},
		{"reject/deadlock is retryable", func(t *testing.T) error { return deadlock(t, url) }, nil, true, false},
		{"reject/serialization failure is retryable", func(t *testing.T) error { return serializationFailure(t, url) }, nil, true, false},
		{"reject/connection refused is ErrUnavailable", func(t *testing.T) error {
			_, err := pgx.Connect(ctx, "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2")
			return err
		}, storage.ErrUnavailable, false, true},
		{"reject/terminated connection is ErrUnavailable", func(t *testing.T) error {
			conn, err := pgx.Connect(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(ctx)
			if _, err := pgtest.Admin(t).Exec(ctx, `SELECT pg_terminate_backend($1)`, conn.PgConn().PID()); err != nil {
				t.Fatal(err)
			}
			_, err = conn.Exec(ctx, `SELECT 1`)
			return err
		}, storage.ErrUnavailable, false, true},
		{"reject/closed pool is ErrUnavailable", func(t *testing.T) error {
			db2, err := Open(ctx, url, Options{PoolSize: 1})
			if err != nil {
				t.Fatal(err)
			}
			db2.Close()
			_, err = db2.pool.Exec(ctx, `SELECT 1`)
			return err
		}, storage.ErrUnavailable, false, true},
		{"reject/cancelled by the caller is not ErrUnavailable", func(t *testing.T) error {
			cctx, cancel := context.WithCancel(ctx)
			time.AfterFunc(50*time.Millisecond, cancel)
			_, err := db.pool.Exec(cctx, `SELECT pg_sleep(5)`)
			return err
		}, nil, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.produce(t)
			if err == nil {
				t.Fatal("no error produced")
			}
			if got := retryable(err); got != tt.retryable {
				t.Errorf("retryable(%v) = %v, want %v", err, got, tt.retryable)
			}
			if got := unavailable(err); got != tt.unavailable {
				t.Errorf("unavailable(%v) = %v, want %v", err, got, tt.unavailable)
			}
			got := translate(err)
			for _, s := range []error{storage.ErrConflict, storage.ErrNotFound, storage.ErrUnavailable} {
				if errors.Is(got, s) != (s == tt.want) {
					t.Errorf("translate(%v) = %v: errors.Is(%v) = %v", err, got, s, errors.Is(got, s))
				}
			}
		})
	}
}

// deadlock runs two transactions that lock two rows in opposite orders and
// returns the error of the one PostgreSQL aborted (40P01).
func deadlock(t *testing.T, url string) error {
	ctx := context.Background()
	a, b := connect(t, url), connect(t, url)
	setup := `INSERT INTO t VALUES (10), (11) ON CONFLICT DO NOTHING`
	if _, err := a.Exec(ctx, setup); err != nil {
		t.Fatal(err)
	}
	ta, _ := a.Begin(ctx)
	tb, _ := b.Begin(ctx)
	defer ta.Rollback(ctx)
	defer tb.Rollback(ctx)
	mustExec(t, ta, `UPDATE t SET id = id WHERE id = 10`)
	mustExec(t, tb, `UPDATE t SET id = id WHERE id = 11`)
	errs := make(chan error, 2)
	go func() { _, err := ta.Exec(ctx, `UPDATE t SET id = id WHERE id = 11`); errs <- err }()
	go func() { _, err := tb.Exec(ctx, `UPDATE t SET id = id WHERE id = 10`); errs <- err }()
	// Both statements end (the victim aborted, the other then got its
	// lock) before the transactions are rolled back.
	var victim error
	for range 2 {
		if err := <-errs; err != nil {
			victim = err
		}
	}
	if victim == nil {
		t.Fatal("no deadlock")
	}
	return victim
}

// serializationFailure makes a SERIALIZABLE transaction update a row another
// one changed after its snapshot (40001).
func serializationFailure(t *testing.T, url string) error {
	ctx := context.Background()
	a, b := connect(t, url), connect(t, url)
	mustExec(t, a, `INSERT INTO t VALUES (20) ON CONFLICT DO NOTHING`)
	ta, err := a.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.Serializable})
	if err != nil {
		t.Fatal(err)
	}
	defer ta.Rollback(ctx)
	mustExec(t, ta, `SELECT * FROM t WHERE id = 20`) // the snapshot
	mustExec(t, b, `UPDATE t SET id = 21 WHERE id = 20`)
	_, err = ta.Exec(ctx, `UPDATE t SET id = 22 WHERE id = 20`)
	return err
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// execer is a connection or a transaction.
type execer interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}

func mustExec(t *testing.T, q execer, sql string) {
	t.Helper()
	if _, err := q.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// A transaction that PostgreSQL aborts as a deadlock victim runs again,
// and its second run commits.
func TestInTxRetriesDeadlock(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	db, err := Open(ctx, url, Options{PoolSize: 2, Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mustExec(t, db.pool, `CREATE TABLE t (id int PRIMARY KEY)`)
	mustExec(t, db.pool, `INSERT INTO t VALUES (30), (31)`)

	other := connect(t, url)
	otx, err := other.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, otx, `UPDATE t SET id = id WHERE id = 31`)
	ours := make(chan uint32, 1) // the server process of our first attempt
	otherDone := make(chan error, 1)
	go func() {
		pid := <-ours
		// Start waiting only once ours waits for the lock: ours reaches
		// deadlock_timeout first, finds the cycle and is the one aborted.
		admin := connect(t, url)
		for {
			var event *string
			if err := admin.QueryRow(ctx, `SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1`, int64(pid)).Scan(&event); err != nil {
				otherDone <- err
				return
			}
			if event != nil && *event == "Lock" {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		if _, err := otx.Exec(ctx, `UPDATE t SET id = id WHERE id = 30`); err != nil {
			otherDone <- err
			return
		}
		otherDone <- otx.Commit(ctx)
	}()

	var attempts atomic.Int32
	err = db.inTx(ctx, func(tx pgx.Tx) error {
		n := attempts.Add(1)
		if _, err := tx.Exec(ctx, `UPDATE t SET id = id WHERE id = 30`); err != nil {
			return err
		}
		if n == 1 {
			ours <- tx.Conn().PgConn().PID()
		}
		_, err := tx.Exec(ctx, `UPDATE t SET id = id WHERE id = 31`)
		return err
	})
	if err != nil {
		t.Fatalf("inTx: %v (after %d attempts)", err, attempts.Load())
	}
	if n := attempts.Load(); n != 2 {
		t.Errorf("inTx ran fn %d times, want 2 (a deadlock, then a commit)", n)
	}
	if err := <-otherDone; err != nil {
		t.Errorf("the other transaction: %v", err)
	}
}
