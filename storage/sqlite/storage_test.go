package sqlite_test

import (
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/certbound/certbound/storage"
	"github.com/certbound/certbound/storage/sqlite"
	"github.com/certbound/certbound/storage/sqlite/sqlitetest"
	"github.com/certbound/certbound/storage/storagetest"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func newClient(t *testing.T, db *sqlite.DB, id string) storage.Client {
	t.Helper()
	c := storage.Client{ID: id, Name: id, Scopes: []string{"event.create", "event.read"}, Audiences: []string{"event"},
		GrantTypes: []string{"client_credentials"}, AuthMethod: "tls_client_auth", SANURI: "spiffe://certbound.local/" + id,
		CreatedAt: t0, UpdatedAt: t0}
	if err := db.CreateClient(context.Background(), c); err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	return c
}

func hash(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }

func certFor(serial string) storage.IssueFunc {
	return func(tok storage.EnrollToken, c storage.Client) (storage.Certificate, error) {
		return storage.Certificate{Serial: serial, ClientID: c.ID, Fingerprint: "fp-" + serial,
			NotBefore: t0, NotAfter: t0.Add(24 * time.Hour), CreatedAt: t0}, nil
	}
}

func TestOpenCreatesPrivateFileAndMigrates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db.sqlite")
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	newClient(t, db, "a")
	db.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %o, want 0600", fi.Mode().Perm())
	}
	// Reopening applies no migration twice and keeps the data.
	db, err = sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.GetClient(context.Background(), "a"); err != nil {
		t.Fatalf("client lost on reopen: %v", err)
	}
	if res, err := db.IntegrityCheck(context.Background()); err != nil || res != "ok" {
		t.Fatalf("integrity_check = %q, %v", res, err)
	}
}

// TestConformance: SQLite keeps the promises every backend must keep
// (storagetest.Run), on a real file in t.TempDir().
func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t testing.TB) storage.Store { return sqlitetest.Open(t) })
}
