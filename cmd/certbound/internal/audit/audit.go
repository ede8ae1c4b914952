// Package audit writes the security trail: events handed to Writer.Record
// are appended to the audit_events table in batches by one goroutine, so
// that recording an event costs a channel send and no request path waits
// for a database write.
//
// Durability: a batch is written within FlushInterval; events recorded in
// the last interval before a crash are lost. What matters most survives
// anyway: certificates and their revocations are recorded in the same
// transaction that issues or revokes them. Close flushes everything.
package audit

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/certbound/certbound/storage"
)

// Store is where events go. *storage.DB implements it.
type Store interface {
	AppendAuditEvents(ctx context.Context, events []storage.AuditEvent) error
}

// Defaults.
const (
	DefaultFlushInterval = 200 * time.Millisecond
	batchSize            = 512
	queueSize            = 8192
)

// Writer batches events into the store. Safe for concurrent use.
type Writer struct {
	store    Store
	log      *slog.Logger
	interval time.Duration
	ch       chan storage.AuditEvent
	done     chan struct{}
	once     sync.Once
}

// NewWriter starts the writer's goroutine. interval <= 0 means
// DefaultFlushInterval.
func NewWriter(store Store, log *slog.Logger, interval time.Duration) *Writer {
	if interval <= 0 {
		interval = DefaultFlushInterval
	}
	w := &Writer{store: store, log: log, interval: interval, ch: make(chan storage.AuditEvent, queueSize), done: make(chan struct{})}
	go w.run()
	return w
}

// Record queues e. When the queue is full (the database is far behind) it
// waits: an audit trail with holes is worse than a slower request.
func (w *Writer) Record(e storage.AuditEvent) {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	w.ch <- e
}

// Close writes what is queued and stops the writer. Record must not be
// called after Close.
func (w *Writer) Close() {
	w.once.Do(func() { close(w.ch) })
	<-w.done
}

func (w *Writer) run() {
	defer close(w.done)
	tick := time.NewTicker(w.interval)
	defer tick.Stop()
	batch := make([]storage.AuditEvent, 0, batchSize)
	flush := func() {
		if len(batch) == 0 {
			return
		}
		if err := w.store.AppendAuditEvents(context.Background(), batch); err != nil {
			w.log.Error("audit: writing events failed", slog.Int("events", len(batch)), slog.Any("err", err))
		}
		batch = batch[:0]
	}
	for {
		select {
		case e, ok := <-w.ch:
			if !ok {
				flush()
				return
			}
			batch = append(batch, e)
			if len(batch) == batchSize {
				flush()
			}
		case <-tick.C:
			flush()
		}
	}
}
