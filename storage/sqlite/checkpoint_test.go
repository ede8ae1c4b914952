package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/certbound/certbound/storage"
	"github.com/certbound/certbound/storage/sqlite"
	"github.com/certbound/certbound/storage/sqlite/sqlitetest"
)

// The writer's own checkpoint is far out (tens of thousands of pages), so a
// database file that grows shortly after a few hundred pages were committed
// was written by the background checkpoint.
func TestCommittedPagesReachTheDatabaseFileInTheBackground(t *testing.T) {
	ctx := context.Background()
	db := sqlitetest.Open(t)
	size := func() int64 {
		fi, err := os.Stat(db.Path())
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	before := size()
	cs := make([]storage.Client, 300)
	for i := range cs {
		cs[i] = storage.Client{ID: fmt.Sprintf("svc-%03d", i), Name: strings.Repeat("n", 2000), AuthMethod: "tls_client_auth",
			CreatedAt: t0, UpdatedAt: t0}
	}
	if err := db.ImportClients(ctx, cs); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for size() < before+300*2000 {
		if time.Now().After(deadline) {
			t.Fatalf("database file %d bytes 10 s after committing 600 kB (was %d): no checkpoint", size(), before)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Closing stops the checkpointer and leaves a consistent database.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := sqlite.Open(ctx, db.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if res, err := again.IntegrityCheck(ctx); err != nil || res != "ok" {
		t.Fatalf("integrity_check: %q, %v", res, err)
	}
	if c, err := again.GetClient(ctx, "svc-299"); err != nil || len(c.Name) != 2000 {
		t.Fatalf("svc-299 after reopening: %v", err)
	}
}
