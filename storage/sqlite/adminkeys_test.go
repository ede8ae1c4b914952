package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/certbound/certbound/storage"
	"github.com/certbound/certbound/storage/sqlite"
	"github.com/certbound/certbound/storage/sqlite/sqlitetest"
)

func adminKey(t *testing.T, db *sqlite.DB, name string) storage.AdminKey {
	t.Helper()
	keys, err := db.AdminKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k.Name == name {
			return k
		}
	}
	t.Fatalf("no admin key %s in %+v", name, keys)
	return storage.AdminKey{}
}

func TestAdminKeysStoreOnlyHashes(t *testing.T) {
	ctx := context.Background()
	db := sqlitetest.Open(t)
	const key = "cba_the-admin-secret-value"
	if err := db.InsertAdminKey(ctx, storage.AdminKey{Name: "bootstrap", Hash: hash(key), CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	keys, err := db.AdminKeys(ctx)
	if err != nil || len(keys) != 1 || !bytes.Equal(keys[0].Hash, hash(key)) || keys[0].Name != "bootstrap" ||
		!keys[0].CreatedAt.Equal(t0) || !keys[0].ExpiresAt.IsZero() || !keys[0].Valid(t0.Add(100*365*24*time.Hour)) {
		t.Fatalf("keys = %+v %v", keys, err)
	}
	db.Close()
	raw, _ := os.ReadFile(db.Path())
	wal, _ := os.ReadFile(db.Path() + "-wal")
	if bytes.Contains(append(raw, wal...), []byte(key)) {
		t.Fatal("the admin key itself reached the database file")
	}
}

// A database made before admin keys had names keeps its bootstrap key,
// valid and never expiring, through migration 0006.
func TestMigrationKeepsTheBootstrapKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "certbound.db")
	old, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("migrations/000[1-5]_*.sql")
	if len(files) != 5 {
		t.Fatalf("migrations 0001-0005: %v", files)
	}
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := old.Exec(string(body)); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	if _, err := old.Exec(`INSERT INTO admin_keys (hash, name, created_at) VALUES (?, 'bootstrap', ?); PRAGMA user_version = 5`,
		hash("old key"), t0.Unix()); err != nil {
		t.Fatal(err)
	}
	old.Close()

	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	k := adminKey(t, db, "bootstrap")
	if !bytes.Equal(k.Hash, hash("old key")) || !k.Valid(t0.Add(10*365*24*time.Hour)) || !k.CreatedAt.Equal(t0) {
		t.Fatalf("bootstrap after migration: %+v", k)
	}
	if err := db.RevokeAdminKey(context.Background(), "bootstrap", t0); !errors.Is(err, storage.ErrLastAdminKey) {
		t.Fatalf("revoking the migrated only key: %v", err)
	}
}
