package dbcopy_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/certbound/certbound/ca"
	"github.com/certbound/certbound/cmd/certbound/internal/datalock"
	"github.com/certbound/certbound/cmd/certbound/internal/dbcopy"
	"github.com/certbound/certbound/storage"
	"github.com/certbound/certbound/storage/postgres"
	"github.com/certbound/certbound/storage/postgres/pgtest"
	"github.com/certbound/certbound/storage/sqlite"
)

var password = []byte("correct horse battery staple")

func hash(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }

// install makes a SQLite data dir with a CA (keys encrypted with caPassword,
// or in the clear when it is nil) and records of every kind through the
// store API: clients (one disabled), tokens used and unused, certificates
// enrolled, renewed, revoked, used and marked suspect, admin keys (one
// revoked), two signing keys rotated in one second, audit events.
func install(t *testing.T, caPassword []byte) string {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	if err := ca.Bootstrap(filepath.Join(dir, "ca"), ca.BootstrapOptions{Password: caPassword}); err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(ctx, filepath.Join(dir, "certbound.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now().Truncate(time.Second)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"svc-a", "svc-b", "svc-c"} {
		must(db.CreateClient(ctx, storage.Client{ID: id, Name: id, Scopes: []string{"read"}, Audiences: []string{"api"},
			GrantTypes: []string{"client_credentials"}, AuthMethod: "tls_client_auth", SANURI: "spiffe://certbound/" + id,
			SecretHash: hash(id), CreatedAt: now, UpdatedAt: now}))
	}
	must(db.DisableClient(ctx, "svc-c", now))
	must(db.InsertEnrollToken(ctx, storage.EnrollToken{Hash: hash("tok-used"), ClientID: "svc-a", DNSNames: []string{"a.example"}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))
	must(db.InsertEnrollToken(ctx, storage.EnrollToken{Hash: hash("tok-unused"), ClientID: "svc-b", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))
	cert := func(serial string) storage.Certificate {
		return storage.Certificate{Serial: serial, ClientID: "svc-a", Fingerprint: "fp-" + serial, NotBefore: now, NotAfter: now.Add(24 * time.Hour), CreatedAt: now}
	}
	_, err = db.RedeemEnrollToken(ctx, hash("tok-used"), now, func(storage.EnrollToken, storage.Client) (storage.Certificate, error) { return cert("0a01"), nil })
	must(err)
	must(db.MarkCertificateUsed(ctx, "0a01", now))
	_, err = db.RenewCertificate(ctx, "0a01", now, func(old storage.Certificate, _ storage.Client) (storage.Certificate, error) {
		c := cert("0a02")
		c.RenewedFrom = old.Serial
		return c, nil
	})
	must(err)
	_, err = db.MarkLineageSuspect(ctx, "0a02", "0a01")
	must(err)
	_, err = db.RevokeCertificate(ctx, "0a01", "superseded", now)
	must(err)
	must(db.InsertAdminKey(ctx, storage.AdminKey{Name: "bootstrap", Hash: hash("admin-1"), CreatedAt: now}))
	must(db.InsertAdminKey(ctx, storage.AdminKey{Name: "ops", Hash: hash("admin-2"), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))
	must(db.RevokeAdminKey(ctx, "ops", now))
	must(db.RecordAdminKeyUse(ctx, map[string]time.Time{"bootstrap": now}))
	// Two keys in one second: only the insertion order tells which is current.
	must(db.RotateSigningKey(ctx, storage.SigningKey{KID: "zz-first", Alg: "ES256", PrivatePEM: "pem-1", CreatedAt: now}, now.Add(time.Hour)))
	must(db.RotateSigningKey(ctx, storage.SigningKey{KID: "aa-second", Alg: "ES256", PrivatePEM: "pem-2", CreatedAt: now}, now.Add(time.Hour)))
	must(db.AppendAuditEvents(ctx, []storage.AuditEvent{
		{At: now, Type: "certificate.issued", ClientID: "svc-a", Serial: "0a01", Remote: "127.0.0.1", RequestID: "r1"},
		{At: now, Type: "token.refused", ClientID: "svc-b", Reason: "client_disabled", Count: 7, AdminKey: "bootstrap", TargetKey: "ops"},
	}))
	return dir
}

func TestCopyRoundTrip(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name       string
		caPassword []byte
	}{
		{"accept/encrypted-ca", password},
		{"accept/ca-in-the-clear-is-encrypted", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := install(t, tt.caPassword)
			url := pgtest.URL(t)
			sum, err := dbcopy.Copy(ctx, dbcopy.Options{DataDir: dir, To: url, Password: password})
			if err != nil {
				t.Fatalf("copy to PostgreSQL: %v", err)
			}
			rows := map[string]int{}
			for _, ts := range sum.Tables {
				rows[ts.Table] = ts.Rows
			}
			want := map[string]int{"clients": 3, "enroll_tokens": 2, "certificates": 2, "admin_keys": 2, "signing_keys": 2, "audit_events": 2}
			for k, v := range want {
				if rows[k] != v {
					t.Errorf("%s: %d rows copied, want %d", k, rows[k], v)
				}
			}
			files, err := ca.ReadMaterial(filepath.Join(dir, "ca"))
			if err != nil {
				t.Fatal(err)
			}
			fp, err := files.Check(password)
			if err != nil {
				t.Fatal(err)
			}
			if sum.RootFingerprint != fp {
				t.Fatalf("root %s after the copy, %s before", sum.RootFingerprint, fp)
			}

			// The PostgreSQL store answers as the SQLite one did.
			pg, err := postgres.Open(ctx, url, postgres.Options{PoolSize: 2})
			if err != nil {
				t.Fatal(err)
			}
			checkStore(t, pg)
			m, err := pg.LoadCA(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !ca.KeyEncrypted(m.RootKeyPEM) || !ca.KeyEncrypted(m.IntermediateKeyPEM) {
				t.Fatal("a CA key is stored in the clear")
			}
			defer pg.Close()

			// And back into a fresh data dir.
			back := filepath.Join(t.TempDir(), "data")
			sum2, err := dbcopy.Copy(ctx, dbcopy.Options{From: url, DataDir: back, Password: password})
			if err != nil {
				t.Fatalf("copy back to SQLite: %v", err)
			}
			if sum2.RootFingerprint != fp {
				t.Fatalf("root %s after the copy back, %s before", sum2.RootFingerprint, fp)
			}
			for i := range sum.Tables {
				if sum.Tables[i].SourceDigest != sum2.Tables[i].TargetDigest {
					t.Errorf("%s differs after the round trip", sum.Tables[i].Table)
				}
			}
			for name, mode := range map[string]os.FileMode{"ca": 0o700 | os.ModeDir, "ca/root.key": 0o600, "ca/intermediate.key": 0o600} {
				st, err := os.Stat(filepath.Join(back, name))
				if err != nil || st.Mode() != mode {
					t.Errorf("%s: %v, mode %v, want %v", name, err, st.Mode(), mode)
				}
			}
			db, err := sqlite.Open(ctx, filepath.Join(back, "certbound.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			checkStore(t, db)
			appendAudit(t, db)
			appendAudit(t, pg)
		})
	}
}

// checkStore asks the copied store what install wrote.
func checkStore(t *testing.T, s storage.Store) {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	if c, err := s.GetClient(ctx, "svc-a"); err != nil || c.SANURI != "spiffe://certbound/svc-a" || c.Disabled {
		t.Errorf("svc-a: %+v, %v", c, err)
	}
	if off, err := s.ClientDisabled(ctx, "svc-c"); err != nil || !off {
		t.Errorf("svc-c disabled = %v, %v", off, err)
	}
	if st, err := s.EnrollTokenState(ctx, hash("tok-used"), now); err != nil || st != storage.TokenUsed {
		t.Errorf("used token: %q, %v", st, err)
	}
	if _, err := s.RedeemEnrollToken(ctx, hash("tok-used"), now, nil); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("the used token redeemed again: %v", err)
	}
	if revoked, err := s.CertificateRevoked(ctx, "0a01"); err != nil || !revoked {
		t.Errorf("0a01 revoked = %v, %v", revoked, err)
	}
	if suspect, err := s.CertificateSuspect(ctx, "0a02"); err != nil || !suspect {
		t.Errorf("0a02 suspect = %v, %v", suspect, err)
	}
	if c, err := s.GetCertificate(ctx, "0a02"); err != nil || c.RenewedFrom != "0a01" {
		t.Errorf("0a02: %+v, %v", c, err)
	}
	if used, err := s.CertificateFirstUsed(ctx, "0a01"); err != nil || used.IsZero() {
		t.Errorf("0a01 first used %v, %v", used, err)
	}
	keys, err := s.SigningKeys(ctx, now)
	if err != nil || len(keys) != 2 {
		t.Fatalf("signing keys: %v, %v", keys, err)
	}
	for _, k := range keys {
		if k.KID == "aa-second" && !k.RetiredAt.IsZero() || k.KID == "zz-first" && k.RetiredAt.IsZero() {
			t.Errorf("the rotation order is lost: %s retired at %v", k.KID, k.RetiredAt)
		}
	}
	aks, err := s.AdminKeys(ctx)
	if err != nil || len(aks) != 2 {
		t.Fatalf("admin keys: %v, %v", aks, err)
	}
	events, err := s.ListAuditEvents(ctx, storage.AuditFilter{})
	if err != nil || len(events) != 2 {
		t.Fatalf("audit: %v, %v", events, err)
	}
}

// appendAudit: new events continue after the copied ids.
func appendAudit(t *testing.T, s storage.Store) {
	t.Helper()
	if err := s.AppendAuditEvents(context.Background(), []storage.AuditEvent{{At: time.Now(), Type: "after.copy"}}); err != nil {
		t.Errorf("append after the copy: %v", err)
	}
}

func TestCopyRefuses(t *testing.T) {
	ctx := context.Background()
	t.Run("reject/target-not-empty", func(t *testing.T) {
		dir := install(t, password)
		url := pgtest.URL(t)
		if _, err := dbcopy.Copy(ctx, dbcopy.Options{DataDir: dir, To: url, Password: password}); err != nil {
			t.Fatal(err)
		}
		_, err := dbcopy.Copy(ctx, dbcopy.Options{DataDir: dir, To: url, Password: password})
		if !errors.Is(err, storage.ErrNotEmpty) {
			t.Fatalf("second copy into the same database: %v, want ErrNotEmpty", err)
		}
		_, err = dbcopy.Copy(ctx, dbcopy.Options{From: url, DataDir: dir, Password: password})
		if !errors.Is(err, storage.ErrNotEmpty) {
			t.Fatalf("copy into a data dir in use: %v, want ErrNotEmpty", err)
		}
	})
	t.Run("reject/server-running", func(t *testing.T) {
		dir := install(t, password)
		lock, err := datalock.Acquire(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer lock.Release()
		_, err = dbcopy.Copy(ctx, dbcopy.Options{DataDir: dir, To: pgtest.URL(t), Password: password})
		if !errors.Is(err, datalock.ErrLocked) {
			t.Fatalf("copy of a data dir in use: %v, want ErrLocked", err)
		}
	})
	t.Run("reject/wrong-password", func(t *testing.T) {
		dir := install(t, password)
		url := pgtest.URL(t)
		_, err := dbcopy.Copy(ctx, dbcopy.Options{DataDir: dir, To: url, Password: []byte("wrong")})
		if !errors.Is(err, ca.ErrPassword) {
			t.Fatalf("copy with a wrong password: %v, want ErrPassword", err)
		}
		if _, err := dbcopy.Copy(ctx, dbcopy.Options{DataDir: dir, To: url, Password: password}); err != nil {
			t.Fatalf("the refused copy left something behind: %v", err)
		}
		back := filepath.Join(t.TempDir(), "data")
		_, err = dbcopy.Copy(ctx, dbcopy.Options{From: url, DataDir: back, Password: []byte("wrong")})
		if !errors.Is(err, ca.ErrPassword) {
			t.Fatalf("copy back with a wrong password: %v, want ErrPassword", err)
		}
	})
	t.Run("reject/same-backend", func(t *testing.T) {
		_, err := dbcopy.Copy(ctx, dbcopy.Options{DataDir: t.TempDir(), Password: password})
		if err == nil {
			t.Fatal("a copy from SQLite to SQLite was accepted")
		}
	})
}
