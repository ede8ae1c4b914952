package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// Write batching (group commit) for the single-use transactions every
// enrollment and renewal runs (RedeemEnrollToken, RenewCertificate).
//
// Each of those is a job: a function of the write transaction. One goroutine
// takes the jobs whose callers are waiting and runs them, in arrival order,
// in one SQLite transaction, each inside its own savepoint: a job that fails
// (or panics) is rolled back to its savepoint and leaves the others alone,
// so every job is as atomic as if it had its own transaction. All of a
// batch's jobs become durable together at COMMIT, before any caller hears
// back; if BEGIN or COMMIT fails, every job of the batch fails and nothing
// of it is recorded. A job sees the writes of the jobs before it (the same
// token redeemed twice in one batch: the second finds it used).
//
// What every write transaction pays once — BEGIN IMMEDIATE's locks, COMMIT,
// the WAL frames of the pages the jobs share — is then paid once per batch.
// The batcher never waits for more work: a batch is the lone job, or the
// jobs that queued up while the previous batch ran, so no latency is added.

// maxBatch bounds the jobs of one transaction: the write lock is held for
// the whole batch (each job signs a certificate inside it).
const maxBatch = 32

// errClosed is the answer to a job submitted after Close.
var errClosed = errors.New("storage: database is closed")

// writeJob is one caller's transaction body and where its answer goes.
type writeJob struct {
	ctx  context.Context // the caller's; only checked before the job starts
	fn   func(ctx context.Context, tx *sql.Tx) error
	done chan jobResult // buffered (1): the batcher never blocks on it
}

type jobResult struct {
	err      error
	panicked bool
	panicVal any // re-raised on the caller's goroutine
}

// batcher owns the goroutine that runs write batches.
type batcher struct {
	jobs    chan *writeJob // unbuffered: a job sent is a job taken
	quit    chan struct{}  // closed by stopBatcher, once
	stop    sync.Once
	stopped chan struct{} // closed when the goroutine has returned
}

func (db *DB) startBatcher() {
	db.batch = &batcher{jobs: make(chan *writeJob), quit: make(chan struct{}), stopped: make(chan struct{})}
	go db.batchLoop()
}

// stopBatcher ends the goroutine after the batch it is running, if any;
// jobs submitted from then on fail with errClosed.
func (db *DB) stopBatcher() {
	if db.batch == nil {
		return
	}
	db.batch.stop.Do(func() { close(db.batch.quit) })
	<-db.batch.stopped
}

// inBatch runs fn as one job of a write batch and returns its error. A
// panic in fn is re-raised here. fn runs on the batcher's goroutine, with a
// context that is never cancelled (an interrupted statement would roll back
// the whole batch): a caller whose ctx ends before its job starts gets
// ctx.Err() and fn does not run; once started, the job runs to its end.
// On a handle without a batcher (OpenReadOnly) fn runs in its own
// transaction, as inTx.
func (db *DB) inBatch(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	if db.batch == nil {
		return db.inTx(ctx, func(tx *sql.Tx) error { return fn(ctx, tx) })
	}
	j := &writeJob{ctx: ctx, fn: fn, done: make(chan jobResult, 1)}
	select {
	case db.batch.jobs <- j:
	case <-ctx.Done():
		return ctx.Err()
	case <-db.batch.quit:
		return errClosed
	}
	r := <-j.done // the batcher answers every job it took
	if r.panicked {
		panic(r.panicVal)
	}
	return r.err
}

func (db *DB) batchLoop() {
	defer close(db.batch.stopped)
	for {
		var first *writeJob
		select {
		case first = <-db.batch.jobs:
		case <-db.batch.quit:
			return
		}
		jobs := []*writeJob{first}
	drain:
		for len(jobs) < maxBatch {
			select {
			case j := <-db.batch.jobs:
				jobs = append(jobs, j)
			default:
				break drain
			}
		}
		db.runBatch(jobs)
	}
}

// runBatch runs jobs in one transaction and answers each.
func (db *DB) runBatch(jobs []*writeJob) {
	ctx := context.Background()
	results := make([]jobResult, len(jobs))
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if len(jobs) == 1 {
			// The transaction is the job's: its failure rolls back all.
			results[0] = runJob(ctx, tx, jobs[0])
			if results[0].err != nil || results[0].panicked {
				return errJobFailed
			}
			return nil
		}
		for i, j := range jobs {
			var fatal error
			results[i], fatal = db.runSavepointJob(ctx, tx, j)
			if fatal != nil {
				return fatal
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errJobFailed) {
		// BEGIN, COMMIT or a savepoint failed: nothing was recorded.
		for i := range results {
			if results[i].err == nil && !results[i].panicked {
				results[i].err = err
			}
		}
	}
	for i, j := range jobs {
		j.done <- results[i]
	}
}

// errJobFailed rolls back a one-job batch whose job failed; the job's own
// error is its answer.
var errJobFailed = errors.New("storage: job failed")

// runJob runs j's function, turning a panic into a result.
func runJob(ctx context.Context, tx *sql.Tx, j *writeJob) (res jobResult) {
	if err := j.ctx.Err(); err != nil {
		return jobResult{err: err}
	}
	defer func() {
		if r := recover(); r != nil {
			res = jobResult{panicked: true, panicVal: r}
		}
	}()
	return jobResult{err: j.fn(ctx, tx)}
}

// runSavepointJob runs j inside a savepoint, rolled back if j fails. A
// non-nil fatal error means the transaction can no longer be trusted.
func (db *DB) runSavepointJob(ctx context.Context, tx *sql.Tx, j *writeJob) (res jobResult, fatal error) {
	if err := j.ctx.Err(); err != nil {
		return jobResult{err: err}, nil
	}
	if _, err := db.txExec(ctx, tx, sqlSavepoint); err != nil {
		return jobResult{}, fmt.Errorf("storage: savepoint: %w", err)
	}
	res = runJob(ctx, tx, j)
	if res.err != nil || res.panicked {
		if _, err := db.txExec(ctx, tx, sqlRollbackToSavepoint); err != nil {
			return res, fmt.Errorf("storage: rollback to savepoint: %w", err)
		}
	}
	if _, err := db.txExec(ctx, tx, sqlReleaseSavepoint); err != nil {
		return res, fmt.Errorf("storage: release savepoint: %w", err)
	}
	return res, nil
}
