package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/certbound/certbound/storage"
	"github.com/certbound/certbound/storage/sqlite"
)

func importCert(t *testing.T, db *sqlite.DB, serial, clientID string, notAfter time.Time) {
	t.Helper()
	c := storage.Certificate{Serial: serial, ClientID: clientID, Fingerprint: "fp-" + serial, NotBefore: t0,
		NotAfter: notAfter, CreatedAt: t0}
	if err := db.ImportCertificates(context.Background(), []storage.Certificate{c}); err != nil {
		t.Fatal(err)
	}
}

func wantDisabled(t *testing.T, db *sqlite.DB, id string, want bool) {
	t.Helper()
	if got, err := db.ClientDisabled(context.Background(), id); err != nil || got != want {
		t.Fatalf("ClientDisabled(%s) = %v, %v; want %v", id, got, err, want)
	}
}

func wantRevoked(t *testing.T, db *sqlite.DB, serial string, want bool) {
	t.Helper()
	if got, err := db.CertificateRevoked(context.Background(), serial); err != nil || got != want {
		t.Fatalf("CertificateRevoked(%s) = %v, %v; want %v", serial, got, err, want)
	}
}

// TestReadOnlyHandleSeesOtherWriters: a handle from OpenReadOnly next to a
// writer answers with the writer's latest commit, not with what it read
// before.
func TestReadOnlyHandleSeesOtherWriters(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "certbound.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	newClient(t, db, "a")
	importCert(t, db, "01", "a", t0.Add(24*time.Hour))
	ro, err := sqlite.OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ro.Close() })
	wantDisabled(t, ro, "a", false)
	wantRevoked(t, ro, "01", false)
	if err := db.DisableClient(ctx, "a", t0); err != nil {
		t.Fatal(err)
	}
	if _, err := db.RevokeCertificate(ctx, "01", "test", t0); err != nil {
		t.Fatal(err)
	}
	wantDisabled(t, ro, "a", true)
	wantRevoked(t, ro, "01", true)
}

// TestNewCertificatesAreCachedAsNotRevoked: a certificate the process just
// recorded answers CertificateRevoked from memory, and a revocation still
// takes effect as soon as it returns.
func TestNewCertificatesAreCachedAsNotRevoked(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "certbound.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	newClient(t, db, "a")
	for _, tok := range []string{"t1", "t2"} {
		if err := db.InsertEnrollToken(ctx, storage.EnrollToken{Hash: hash(tok), ClientID: "a", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.RedeemEnrollToken(ctx, hash("t1"), t0, certFor("01")); err != nil {
		t.Fatal(err)
	}
	if _, err := db.RenewCertificate(ctx, "01", t0, func(old storage.Certificate, c storage.Client) (storage.Certificate, error) {
		return storage.Certificate{Serial: "02", ClientID: c.ID, Fingerprint: "fp-02", NotBefore: t0, NotAfter: t0.Add(time.Hour), CreatedAt: t0}, nil
	}); err != nil {
		t.Fatal(err)
	}
	// Only the cache can still answer "not revoked" once the records are
	// gone behind its back (no record means revoked).
	other, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.ExecContext(ctx, `DELETE FROM certificates WHERE serial IN ('01', '02')`); err != nil {
		t.Fatal(err)
	}
	wantRevoked(t, db, "01", false)
	wantRevoked(t, db, "02", false)

	if _, err := db.RedeemEnrollToken(ctx, hash("t2"), t0, certFor("03")); err != nil {
		t.Fatal(err)
	}
	if _, err := db.RevokeCertificate(ctx, "03", "test", t0); err != nil {
		t.Fatal(err)
	}
	wantRevoked(t, db, "03", true)
}
