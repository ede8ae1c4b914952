package postgres

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/certbound/certbound/storage"
)

// notifyChannel is the LISTEN/NOTIFY channel of changes; the payload is a
// storage.ChangeKind.
const notifyChannel = "certbound_changes"

// The listener waits for a notification at most listenerPing, then pings
// its connection (within listenerPingTimeout): a connection lost without a
// word (a network partition) is noticed within their sum, and the status
// cache turned off.
const (
	listenerPing        = 5 * time.Second
	listenerPingTimeout = 3 * time.Second
)

// Reconnection backoff of the listener: doubling from the first to the
// last, with jitter.
const (
	reconnectFirst = 100 * time.Millisecond
	reconnectMax   = 5 * time.Second
)

// connectListener opens the listener's connection (not from the pool: it
// is held for good, and pg_terminate_backend can find it by its
// application_name) and runs LISTEN on it.
func (db *DB) connectListener(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, db.listenTo)
	if err != nil {
		return nil, translate(err)
	}
	if _, err := conn.Exec(ctx, `LISTEN `+notifyChannel); err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return nil, translate(err)
	}
	db.listenerPID.Store(conn.PgConn().PID())
	return conn, nil
}

// startListener connects the listener (failing Open if it cannot), then
// runs it and the periodic full reload in the background until bg ends.
func (db *DB) startListener(ctx, bg context.Context) error {
	conn, err := db.connectListener(ctx)
	if err != nil {
		return err
	}
	db.cache.setOn(true)
	db.wg.Add(2)
	go func() {
		defer db.wg.Done()
		db.listen(bg, conn)
	}()
	go func() {
		defer db.wg.Done()
		db.reloadPeriodically(bg)
	}()
	return nil
}

// listen dispatches notifications from conn until it breaks, then turns
// the status cache off, reconnects with backoff, turns the cache back on
// and announces ChangeAll (what was missed meanwhile is unknown) — until bg
// ends.
func (db *DB) listen(bg context.Context, conn *pgx.Conn) {
	for {
		err := db.receive(bg, conn)
		conn.Close(context.Background())
		if bg.Err() != nil {
			return
		}
		db.cache.setOn(false)
		db.log.Warn("postgres: change listener lost; status cache off until it is back", slog.Any("error", err))
		if conn = db.reconnectListener(bg); conn == nil {
			return
		}
		db.cache.setOn(true)
		db.log.Info("postgres: change listener back")
		db.changed(storage.ChangeAll)
	}
}

// reconnectListener retries connectListener with backoff until it
// succeeds or bg ends (nil).
func (db *DB) reconnectListener(bg context.Context) *pgx.Conn {
	wait := reconnectFirst
	for {
		ctx, cancel := context.WithTimeout(bg, connectTimeout)
		conn, err := db.connectListener(ctx)
		cancel()
		if err == nil {
			return conn
		}
		if bg.Err() != nil {
			return nil
		}
		db.log.Debug("postgres: change listener: reconnect failed", slog.Any("error", err))
		select {
		case <-bg.Done():
			return nil
		case <-time.After(wait/2 + rand.N(wait/2+1)):
		}
		wait = min(2*wait, reconnectMax)
	}
}

// receive dispatches notifications from conn; it returns the error that
// ended the connection (or bg's).
func (db *DB) receive(bg context.Context, conn *pgx.Conn) error {
	for {
		ctx, cancel := context.WithTimeout(bg, listenerPing)
		n, err := conn.WaitForNotification(ctx)
		cancel()
		switch {
		case bg.Err() != nil:
			return bg.Err()
		case err == nil:
			db.changed(storage.ChangeKind(n.Payload))
		case errors.Is(err, context.DeadlineExceeded) && !conn.IsClosed():
			// Quiet for listenerPing: is the connection still there? A
			// timed-out wait leaves it usable (pgconn closes it on any
			// other error).
			pctx, cancel := context.WithTimeout(bg, listenerPingTimeout)
			err := conn.Ping(pctx)
			cancel()
			if err != nil {
				return err
			}
		default:
			return err
		}
	}
}

// reloadPeriodically announces ChangeAll every storage.MaxStaleness/2: the
// backstop of every cache that follows the feed, should a notification be
// lost without anyone noticing.
func (db *DB) reloadPeriodically(bg context.Context) {
	t := time.NewTicker(storage.MaxStaleness / 2)
	defer t.Stop()
	for {
		select {
		case <-bg.Done():
			return
		case <-t.C:
			db.changed(storage.ChangeAll)
		}
	}
}

// changed applies a change of kind, notified by any process, to the status
// cache and passes it on to the subscribers. A kind this binary does not
// know (a newer replica's) counts as ChangeAll.
func (db *DB) changed(kind storage.ChangeKind) {
	switch kind {
	case storage.ChangeClients, storage.ChangeCertificates:
		db.cache.invalidate()
	case storage.ChangeSigningKeys, storage.ChangeAdminKeys:
	default:
		kind = storage.ChangeAll
		db.cache.invalidate()
	}
	db.feed.publish(kind)
}

// Subscribe calls fn after any process committed a change of that kind
// (storage.ChangeFeed): within the delivery time of a PostgreSQL
// notification while the listener is up, with ChangeAll after the listener
// reconnected and every storage.MaxStaleness/2. Calls to one fn come from
// one goroutine of its own, one at a time; changes that arrive while fn
// runs are coalesced (ChangeAll standing for every kind). A call already
// under way when cancel returns may still finish; none starts afterwards.
func (db *DB) Subscribe(fn func(storage.ChangeKind)) (cancel func()) {
	return db.feed.subscribe(fn)
}

// feed fans changes out to the subscribers.
type feed struct {
	mu     sync.Mutex
	subs   map[*subscriber]struct{} // guarded by mu
	closed bool                     // guarded by mu
}

// subscriber is one Subscribe call: the kinds pending for it, and the
// goroutine that delivers them.
type subscriber struct {
	fn      func(storage.ChangeKind)
	wake    chan struct{} // capacity 1: "pending has something"
	mu      sync.Mutex
	pending map[storage.ChangeKind]bool // guarded by mu
	stopped bool                        // guarded by mu
	done    chan struct{}               // closed when stopped
}

func (f *feed) subscribe(fn func(storage.ChangeKind)) func() {
	s := &subscriber{fn: fn, wake: make(chan struct{}, 1), pending: map[storage.ChangeKind]bool{}, done: make(chan struct{})}
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return func() {}
	}
	if f.subs == nil {
		f.subs = make(map[*subscriber]struct{})
	}
	f.subs[s] = struct{}{}
	f.mu.Unlock()
	go s.run()
	return func() {
		f.mu.Lock()
		delete(f.subs, s)
		f.mu.Unlock()
		s.stop()
	}
}

func (f *feed) publish(kind storage.ChangeKind) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for s := range f.subs {
		s.add(kind)
	}
}

// closeAll stops every subscriber (Close).
func (f *feed) closeAll() {
	f.mu.Lock()
	subs := f.subs
	f.subs, f.closed = nil, true
	f.mu.Unlock()
	for s := range subs {
		s.stop()
	}
}

func (s *subscriber) add(kind storage.ChangeKind) {
	s.mu.Lock()
	s.pending[kind] = true
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *subscriber) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.stopped {
		s.stopped = true
		close(s.done)
	}
}

// run delivers pending kinds until stopped: ChangeAll alone when it is
// pending (it stands for every kind), else each kind once.
func (s *subscriber) run() {
	for {
		select {
		case <-s.done:
			return
		case <-s.wake:
		}
		for {
			kind, ok := s.next()
			if !ok {
				break
			}
			s.fn(kind)
		}
	}
}

// next takes one pending kind; ok is false when none is pending or the
// subscriber stopped.
func (s *subscriber) next() (storage.ChangeKind, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped || len(s.pending) == 0 {
		return "", false
	}
	if s.pending[storage.ChangeAll] {
		clear(s.pending)
		return storage.ChangeAll, true
	}
	for k := range s.pending {
		delete(s.pending, k)
		return k, true
	}
	return "", false
}
