package audit_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/certbound/certbound/cmd/certbound/internal/audit"
	"github.com/certbound/certbound/storage"
	"github.com/certbound/certbound/storage/sqlite/sqlitetest"
)

func waitFor(t *testing.T, db storage.Store, f storage.AuditFilter, rows int) []storage.AuditEvent {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, _ := db.ListAuditEvents(context.Background(), f)
		if len(got) >= rows || time.Now().After(deadline) {
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestWriterKeepsDistinctEventsAndFlushesOnClose(t *testing.T) {
	db := sqlitetest.Open(t)
	w := audit.NewWriter(db, slog.Default(), 20*time.Millisecond)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				w.Record(storage.AuditEvent{Type: "certificate.issued", ClientID: fmt.Sprintf("c%d", g), Serial: fmt.Sprint(i)})
			}
		}()
	}
	wg.Wait()
	// Within one interval the events are visible without Close.
	if got := waitFor(t, db, storage.AuditFilter{Limit: 1000}, 400); len(got) != 400 {
		t.Fatalf("%d of 400 events written", len(got))
	}
	w.Record(storage.AuditEvent{Type: "last"})
	w.Close()
	w.Record(storage.AuditEvent{Type: "after close"}) // ignored, no panic
	if got, _ := db.ListAuditEvents(context.Background(), storage.AuditFilter{Type: "last"}); len(got) != 1 {
		t.Fatal("Close did not flush the queue")
	}
	if w.Dropped() != 0 {
		t.Fatalf("%d events dropped", w.Dropped())
	}
}

func TestWriterCoalescesFrequentEvents(t *testing.T) {
	db := sqlitetest.Open(t)
	w := audit.NewWriter(db, slog.Default(), time.Hour) // one window: Close flushes it
	for range 1000 {
		w.Record(storage.AuditEvent{Type: "token.issued", ClientID: "svc", Remote: "10.0.0.1"})
	}
	for range 300 {
		w.Record(storage.AuditEvent{Type: "token.refused", ClientID: "svc", Reason: "rate_limited", Remote: "10.0.0.1"})
	}
	w.Record(storage.AuditEvent{Type: "token.issued", ClientID: "other", Remote: "10.0.0.2"})
	w.Close()
	got, _ := db.ListAuditEvents(context.Background(), storage.AuditFilter{})
	counts := map[string]int{}
	for _, e := range got {
		counts[e.Type+"/"+e.ClientID] += e.Count
	}
	if len(got) != 3 || counts["token.issued/svc"] != 1000 || counts["token.refused/svc"] != 300 || counts["token.issued/other"] != 1 {
		t.Fatalf("%d rows, counts %v", len(got), counts)
	}
}

// TestRecordDuringClose: events recorded while the writer closes, from many
// goroutines recording without pause across the Close, never send on the
// closed channel (which would panic), and the event recorded before Close
// began is written.
func TestRecordDuringClose(t *testing.T) {
	db := sqlitetest.Open(t)
	for round := range 200 {
		w := audit.NewWriter(db, slog.Default(), time.Hour)
		w.Record(storage.AuditEvent{Type: "client.created", ClientID: fmt.Sprintf("before-%d", round)})
		var stop atomic.Bool
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for !stop.Load() {
					w.Record(storage.AuditEvent{Type: "token.issued", ClientID: "svc"})
				}
			}()
		}
		w.Close()
		stop.Store(true)
		wg.Wait()
	}
	got, err := db.ListAuditEvents(context.Background(), storage.AuditFilter{Type: "client.created"})
	if err != nil || len(got) != 200 {
		t.Fatalf("%d client.created rows (%v), want the 200 recorded before each Close", len(got), err)
	}
}
