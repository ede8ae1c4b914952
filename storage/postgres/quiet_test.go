package postgres_test

import (
	"testing"
	"time"

	"github.com/certbound/certbound/storage"
	"github.com/certbound/certbound/storage/postgres"
	"github.com/certbound/certbound/storage/postgres/pgtest"
)

// A quiet listener keeps its connection (it pings it rather than giving up
// on it), still delivers, and the periodic ChangeAll comes within
// MaxStaleness/2. Slow by nature (MaxStaleness/2 of waiting), so parallel.
func TestListenerQuiet(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	a, b := open(t, url), open(t, url)
	got := make(chan storage.ChangeKind, 100)
	cancel := b.Subscribe(func(k storage.ChangeKind) { got <- k })
	defer cancel()
	pid := postgres.ListenerPID(b)

	deadline := time.After(storage.MaxStaleness/2 + 5*time.Second)
	for k := storage.ChangeKind(""); k != storage.ChangeAll; {
		select {
		case k = <-got:
		case <-deadline:
			t.Fatal("no periodic ChangeAll")
		}
	}
	if !postgres.Listening(b) || postgres.ListenerPID(b) != pid {
		t.Errorf("after a quiet spell: listening %v, listener pid %d, was %d (reconnected)", postgres.Listening(b), postgres.ListenerPID(b), pid)
	}
	newClient(t, a, "svc")
	waitKind(t, got, storage.ChangeClients)
}
