// Package audit writes the security trail: events handed to Writer.Record
// are appended to the audit_events table in batches by one goroutine, so
// that recording an event costs a channel send and no request path waits
// for a database write.
//
// Frequent events — tokens issued and requests refused — are coalesced: all
// those of one kind, client, reason, source and admin keys within a flush
// window become one row with a count. The trail still says who got tokens or
// was refused, when and how often, but a client fetching 10,000 tokens a
// second, or a flood of refused requests, costs a few rows a second, not one
// per request.
//
// Durability: a batch is written within the flush interval; events recorded
// in the last interval before a crash are lost. What matters most survives
// anyway: certificates and their revocations are recorded in the same
// transaction that issues or revokes them. Close flushes everything. If the
// database falls so far behind that the queue is full, Record drops the
// event rather than stall the request, and counts it (Dropped).
//
// When the database is unavailable (storage.ErrUnavailable: an outage of a
// shared database, say), the batch is kept and written again at every tick
// until the database is back — at least once: a write whose commit was
// acknowledged to nobody may appear twice — holding up to retainedRows rows
// (events that coalesce cost none) and counting any event past that as
// dropped. A batch the database refuses for any other reason is lost. Either
// way nothing is lost silently: Dropped counts it, and the log says how many
// in total.
package audit

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/certbound/certbound/storage"
)

// Store is where events go. storage.Store includes it.
type Store interface {
	AppendAuditEvents(ctx context.Context, events []storage.AuditEvent) error
}

// Defaults.
const (
	DefaultFlushInterval = 200 * time.Millisecond
	batchSize            = 512
	queueSize            = 8192
	// retainedRows bounds the rows kept in memory while the database is
	// unavailable (a few MB at most).
	retainedRows = 8192
	// writeTimeout bounds one write, so that a database that hangs instead
	// of failing does not hold the queue for longer.
	writeTimeout = 10 * time.Second
)

// Writer batches events into the store. Safe for concurrent use.
type Writer struct {
	store    Store
	log      *slog.Logger
	interval time.Duration
	ch       chan storage.AuditEvent // closed by Close, under mu
	done     chan struct{}
	dropped  atomic.Int64

	// mu orders Record's send before Close's close(ch): a send on a closed
	// channel panics. Record holds it shared and never blocks while holding
	// it (the send has a default), so Close waits at most for sends in
	// progress.
	mu     sync.RWMutex
	closed bool // guarded by mu
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

// Record queues e without waiting. After Close (and during it) it does
// nothing; it is safe to call at any time from any goroutine.
func (w *Writer) Record(e storage.AuditEvent) {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		return
	}
	select {
	case w.ch <- e:
	default:
		w.dropped.Add(1)
	}
}

// Dropped returns how many events never reached the database: dropped
// because the queue was full or the database unavailable for too long, or
// lost with a batch the database refused.
func (w *Writer) Dropped() int64 { return w.dropped.Load() }

// Close writes what is queued and stops the writer.
func (w *Writer) Close() {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.ch)
	}
	w.mu.Unlock()
	<-w.done
}

// coalescable reports whether events of this type are counted per window
// rather than kept one by one.
func coalescable(typ string) bool {
	return typ == "token.issued" || strings.HasSuffix(typ, ".refused")
}

type coalesceKey struct{ typ, client, reason, remote, adminKey, targetKey string }

func (w *Writer) run() {
	defer close(w.done)
	tick := time.NewTicker(w.interval)
	defer tick.Stop()
	var batch []storage.AuditEvent
	counted := map[coalesceKey]int{} // index into batch
	var reportedDrops int64
	unavailable := false // the last write found the database unavailable; retry at ticks only
	flush := func(final bool) {
		if len(batch) > 0 {
			ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
			err := w.store.AppendAuditEvents(ctx, batch)
			cancel()
			switch {
			case err == nil:
				if unavailable {
					w.log.Info("audit: the database is back; queued events written", slog.Int("rows", len(batch)))
				}
				unavailable = false
			case errors.Is(err, storage.ErrUnavailable) && !final:
				if !unavailable {
					w.log.Warn("audit: the database is unavailable; keeping the events to write them when it is back",
						slog.Int("rows", len(batch)), slog.Any("err", err))
				}
				unavailable = true
				return
			default:
				w.dropped.Add(events(batch))
				w.log.Error("audit: writing events failed; they are lost", slog.Int("rows", len(batch)),
					slog.Int64("events", events(batch)), slog.Any("err", err))
			}
			batch = batch[:0]
			clear(counted)
		}
		if d := w.dropped.Load(); d != reportedDrops {
			w.log.Warn("audit: events not written to the trail", slog.Int64("dropped_total", d))
			reportedDrops = d
		}
	}
	for {
		select {
		case e, ok := <-w.ch:
			if !ok {
				flush(true)
				return
			}
			k := coalesceKey{e.Type, e.ClientID, e.Reason, e.Remote, e.AdminKey, e.TargetKey}
			if i, ok := counted[k]; ok && coalescable(e.Type) {
				batch[i].Count++
				continue
			}
			if len(batch) >= retainedRows {
				w.dropped.Add(1)
				continue
			}
			if coalescable(e.Type) {
				e.Count = 1
				counted[k] = len(batch)
			}
			batch = append(batch, e)
			if len(batch) >= batchSize && !unavailable {
				flush(false)
			}
		case <-tick.C:
			flush(false)
		}
	}
}

// events counts the events in rows (a coalesced row holds Count).
func events(rows []storage.AuditEvent) int64 {
	var n int64
	for _, e := range rows {
		n += int64(max(e.Count, 1))
	}
	return n
}
