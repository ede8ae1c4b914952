package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/certbound/certbound/storage/sqlite"
	"github.com/certbound/certbound/storage/sqlite/sqlitetest"
)

func TestBackupToIsAConsistentCopyTakenWhileOpen(t *testing.T) {
	ctx := context.Background()
	db := sqlitetest.Open(t)
	newClient(t, db, "a")
	dest := filepath.Join(t.TempDir(), "copy.db")
	if err := sqlite.BackupTo(ctx, db.Path(), dest); err != nil {
		t.Fatal(err)
	}
	newClient(t, db, "b") // after the snapshot
	fi, err := os.Stat(dest)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v %v", fi, err)
	}
	cp, err := sqlite.Open(ctx, dest)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	if n, _ := cp.CountClients(ctx); n != 1 {
		t.Fatalf("copy holds %d clients, want the 1 that existed at backup time", n)
	}
	if err := sqlite.BackupTo(ctx, db.Path(), dest); err == nil {
		t.Fatal("BackupTo overwrote an existing file")
	}
}
