package storage_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/certbound/certbound/storage"
	"github.com/certbound/certbound/storage/storagetest"
)

func TestBackupToIsAConsistentCopyTakenWhileOpen(t *testing.T) {
	ctx := context.Background()
	db := storagetest.Open(t)
	newClient(t, db, "a")
	dest := filepath.Join(t.TempDir(), "copy.db")
	if err := storage.BackupTo(ctx, db.Path(), dest); err != nil {
		t.Fatal(err)
	}
	newClient(t, db, "b") // after the snapshot
	fi, err := os.Stat(dest)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v %v", fi, err)
	}
	cp, err := storage.Open(ctx, dest)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	if n, _ := cp.CountClients(ctx); n != 1 {
		t.Fatalf("copy holds %d clients, want the 1 that existed at backup time", n)
	}
	if err := storage.BackupTo(ctx, db.Path(), dest); err == nil {
		t.Fatal("BackupTo overwrote an existing file")
	}
}
