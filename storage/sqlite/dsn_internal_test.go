package sqlite

import (
	"context"
	"path/filepath"
	"testing"
)

// TestCheckpointerBusyTimeout: the checkpointer's connection waits at most
// checkpointBusyTimeout (a RESTART holds writers back while it waits); the
// others keep busyTimeout.
func TestCheckpointerBusyTimeout(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "certbound.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var ms int64
	if err := db.ckpt.conn.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&ms); err != nil || ms != checkpointBusyTimeout.Milliseconds() {
		t.Fatalf("checkpointer busy_timeout = %d %v, want %d", ms, err, checkpointBusyTimeout.Milliseconds())
	}
	if err := db.write.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&ms); err != nil || ms != busyTimeout.Milliseconds() {
		t.Fatalf("writer busy_timeout = %d %v, want %d", ms, err, busyTimeout.Milliseconds())
	}
}
