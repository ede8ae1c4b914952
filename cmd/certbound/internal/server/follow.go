package server

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/certbound/certbound/storage"
)

// reloadTimeout bounds one reload of a cache on a change notification.
const reloadTimeout = 10 * time.Second

// follower keeps one in-memory cache in step with what other replicas
// write, through the store's change feed: after a notification of one of
// kinds (or ChangeAll) it runs reload on a goroutine of its own, so the
// feed's delivery is never held up by a database read, and notifications
// that arrive while a reload runs are merged into one more reload. With the
// feed's promises (storage.ChangeFeed) the cache is stale for at most
// storage.NotifiedStaleness plus one reload while the database is
// reachable, and storage.MaxStaleness in every case.
type follower struct {
	name   string
	reload func(ctx context.Context) error
	log    *slog.Logger

	kick   chan struct{} // buffered 1: a pending reload
	cancel func()        // the feed subscription's
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
}

// follow subscribes reload to feed for kinds. A nil feed (SQLite: this
// process is the only writer) returns nil, and a nil *follower's close does
// nothing.
func follow(feed storage.ChangeFeed, name string, reload func(context.Context) error, log *slog.Logger, kinds ...storage.ChangeKind) *follower {
	if feed == nil {
		return nil
	}
	f := &follower{name: name, reload: reload, log: log, kick: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{})}
	go f.run()
	f.cancel = feed.Subscribe(func(k storage.ChangeKind) {
		if k == storage.ChangeAll || slices.Contains(kinds, k) {
			select {
			case f.kick <- struct{}{}:
			default: // a reload is pending already: it will read this change too
			}
		}
	})
	return f
}

func (f *follower) run() {
	defer close(f.done)
	for {
		select {
		case <-f.stop:
			return
		case <-f.kick:
		}
		ctx, cancel := context.WithTimeout(context.Background(), reloadTimeout)
		err := f.reload(ctx)
		cancel()
		if err != nil {
			// The previous set stays in use; the next notification (ChangeAll
			// comes at least every MaxStaleness/2) tries again.
			f.log.Warn("reloading after a change by another replica failed", slog.String("cache", f.name), slog.Any("err", err))
		}
	}
}

// close ends the subscription and waits for a reload in progress.
func (f *follower) close() {
	if f == nil {
		return
	}
	f.once.Do(func() {
		f.cancel()
		close(f.stop)
		<-f.done
	})
}
