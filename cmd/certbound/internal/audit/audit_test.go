package audit_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/certbound/certbound/cmd/certbound/internal/audit"
	"github.com/certbound/certbound/storage"
	"github.com/certbound/certbound/storage/storagetest"
)

func TestWriterBatchesEverythingIntoTheStore(t *testing.T) {
	db := storagetest.Open(t)
	w := audit.NewWriter(db, slog.Default(), 20*time.Millisecond)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				w.Record(storage.AuditEvent{Type: "token.issued", ClientID: fmt.Sprintf("c%d", g), Serial: fmt.Sprint(i)})
			}
		}()
	}
	wg.Wait()
	// Within one interval the events are visible without Close.
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, _ := db.ListAuditEvents(context.Background(), storage.AuditFilter{Limit: 5000})
		if len(got) == 400 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of 400 events written", len(got))
		}
		time.Sleep(10 * time.Millisecond)
	}
	w.Record(storage.AuditEvent{Type: "last"})
	w.Close()
	got, _ := db.ListAuditEvents(context.Background(), storage.AuditFilter{Type: "last"})
	if len(got) != 1 {
		t.Fatal("Close did not flush the queue")
	}
}
