package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Checkpoints off the write path.
//
// In WAL mode a commit appends its pages to the -wal file; a checkpoint
// copies them back into the database file (random writes, then an fsync).
// Left to SQLite, the writer checkpoints inside the COMMIT that takes the
// WAL past wal_autocheckpoint pages, and with the group commit (batch.go)
// every caller waiting on that batch waits for the whole copy too: with a
// million certificate rows that was a stall of tens of milliseconds every
// few thousand enrollments.
//
// Here a goroutine with a connection of its own does it. After commits, at
// most once per checkpointInterval, it runs a PASSIVE checkpoint, which
// waits for no reader or writer. Under steady writes new frames arrive while
// it copies, so the WAL is never wholly copied at the moment a writer
// starts, and only then does SQLite start the WAL file over; once the WAL
// holds walRestartPages the goroutine follows with a RESTART checkpoint,
// which holds writers back while it copies what the PASSIVE one left (a
// little) and lets the next writer start the file over. The writer keeps
// SQLite's own checkpoint, far out (walBackstopPages), in case this one
// fails. Either way checkpoints are SQLite's crash-safe operation; only who
// waits for them changes.

const (
	// checkpointInterval is the shortest time between two background
	// checkpoints: long enough that a page written by many transactions
	// (interior B-tree pages, the end of an index) is copied once.
	checkpointInterval = 200 * time.Millisecond

	// checkpointIdle is the longest: writes that do not report their commit
	// (committed) are copied within it.
	checkpointIdle = 5 * time.Second

	// walRestartPages is the WAL size (about 40 MB) past which the
	// goroutine makes SQLite start the WAL file over.
	walRestartPages = 10_000

	// walBackstopPages is the writer's own wal_autocheckpoint.
	walBackstopPages = 4 * walRestartPages

	// checkpointBusyTimeout bounds how long a RESTART checkpoint waits for
	// the writer lock and then for readers, and so how long it can hold
	// writers back. A RESTART waits, holding the writer lock, until every
	// reader has moved past the WAL; a long read — a backup's VACUUM INTO
	// of a large database — made it stall every enrollment for the whole
	// backup, and past the writers' busy timeout they failed
	// (TestBackupUnderEnrollmentLoad; docs/performance.md). Given up, the
	// RESTART is simply tried again at a later run; PASSIVE never waits.
	checkpointBusyTimeout = 100 * time.Millisecond
)

// checkpointer owns the background checkpoint goroutine and its connection.
type checkpointer struct {
	conn    *sql.DB
	kick    chan struct{} // buffered (1): something committed since the last run
	quit    chan struct{} // closed by stop, once
	once    sync.Once
	stopped chan struct{} // closed when the goroutine has returned
}

func (db *DB) startCheckpointer() error {
	conn, err := sql.Open("sqlite", strings.Replace(dsn(db.path, false),
		fmt.Sprintf("busy_timeout%%28%d%%29", busyTimeout.Milliseconds()),
		fmt.Sprintf("busy_timeout%%28%d%%29", checkpointBusyTimeout.Milliseconds()), 1))
	if err != nil {
		return fmt.Errorf("storage: checkpointer: %w", err)
	}
	conn.SetMaxOpenConns(1)
	conn.SetMaxIdleConns(1)
	conn.SetConnMaxLifetime(0)
	db.ckpt = &checkpointer{conn: conn, kick: make(chan struct{}, 1), quit: make(chan struct{}), stopped: make(chan struct{})}
	go db.ckpt.loop()
	return nil
}

// committed tells the checkpointer that the WAL grew. It never blocks.
func (db *DB) committed() {
	if db.ckpt == nil {
		return
	}
	select {
	case db.ckpt.kick <- struct{}{}:
	default:
	}
}

func (c *checkpointer) loop() {
	defer close(c.stopped)
	pause := time.NewTimer(0)
	idle := time.NewTicker(checkpointIdle)
	defer idle.Stop()
	for {
		select {
		case <-c.kick:
		case <-idle.C:
		case <-c.quit:
			return
		}
		// A failed checkpoint leaves the frames in the WAL, where readers
		// find them; the next run, or the writer's backstop, copies them.
		ctx := context.Background()
		if frames, _, err := c.checkpoint(ctx, "PASSIVE"); err == nil && frames >= walRestartPages {
			_, _, _ = c.checkpoint(ctx, "RESTART")
		}
		pause.Reset(checkpointInterval)
		select {
		case <-pause.C:
		case <-c.quit:
			return
		}
	}
}

// checkpoint runs one checkpoint in mode and reports the WAL's size in
// frames and how many of them are in the database file now.
func (c *checkpointer) checkpoint(ctx context.Context, mode string) (walFrames, copied int, err error) {
	var busy int
	err = c.conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &walFrames, &copied)
	return walFrames, copied, err
}

// stop ends the goroutine and closes its connection.
func (c *checkpointer) stop() error {
	c.once.Do(func() { close(c.quit) })
	<-c.stopped
	return c.conn.Close()
}
