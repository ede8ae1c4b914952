package sqlite_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
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

func TestClients(t *testing.T) {
	ctx := context.Background()
	db := sqlitetest.Open(t)
	c := newClient(t, db, "task-service")
	if err := db.CreateClient(ctx, c); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("duplicate create: %v, want ErrConflict", err)
	}
	got, err := db.GetClient(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.SANURI != c.SANURI || len(got.Scopes) != 2 || got.Audiences[0] != "event" || !got.CreatedAt.Equal(t0) {
		t.Fatalf("round trip: %+v", got)
	}
	mod, err := db.ModifyClient(ctx, c.ID, func(c *storage.Client) error {
		c.Disabled, c.Scopes, c.ID = true, []string{"event.read"}, "renamed" // the id is not the change's to make
		return nil
	})
	if err != nil || mod.ID != c.ID || !mod.Disabled {
		t.Fatalf("ModifyClient: %+v, %v", mod, err)
	}
	if d, _ := db.ClientDisabled(ctx, c.ID); !d {
		t.Fatal("disabled client reported enabled")
	}
	if got, _ := db.GetClient(ctx, c.ID); len(got.Scopes) != 1 || got.Scopes[0] != "event.read" {
		t.Fatalf("scopes after ModifyClient: %v", got.Scopes)
	}
	refuse := errors.New("no")
	if _, err := db.ModifyClient(ctx, c.ID, func(c *storage.Client) error { c.Disabled = false; return refuse }); err != refuse {
		t.Fatalf("ModifyClient whose change fails: %v, want the change's error", err)
	}
	if d, _ := db.ClientDisabled(ctx, c.ID); !d {
		t.Fatal("a failed change was written")
	}
	if d, _ := db.ClientDisabled(ctx, "nobody"); !d {
		t.Fatal("unknown client must count as disabled")
	}
	if _, err := db.GetClient(ctx, "nobody"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("GetClient(unknown) = %v", err)
	}
	if _, err := db.ModifyClient(ctx, "nobody", func(*storage.Client) error { return nil }); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("ModifyClient(unknown) = %v", err)
	}
	newClient(t, db, "b")
	newClient(t, db, "c")
	page, err := db.ListClients(ctx, "b", 10)
	if err != nil || len(page) != 2 || page[0].ID != "c" {
		t.Fatalf("ListClients after b: %v %v", page, err)
	}
}

func TestRedeemEnrollTokenIsSingleUseUnderConcurrency(t *testing.T) {
	ctx := context.Background()
	db := sqlitetest.Open(t)
	newClient(t, db, "svc")
	tok := storage.EnrollToken{Hash: hash("T"), ClientID: "svc", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	if err := db.InsertEnrollToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	var issued atomic.Int32
	var wg sync.WaitGroup
	errs := make([]error, 50)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = db.RedeemEnrollToken(ctx, hash("T"), t0, func(tk storage.EnrollToken, c storage.Client) (storage.Certificate, error) {
				issued.Add(1)
				return certFor(fmt.Sprintf("s%d", i))(tk, c)
			})
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, storage.ErrNotFound):
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ok != 1 || issued.Load() != 1 {
		t.Fatalf("%d redemptions succeeded and %d certificates were signed, want 1 and 1", ok, issued.Load())
	}
	list, _ := db.ListCertificates(ctx, storage.CertificateFilter{ClientID: "svc"})
	if len(list) != 1 {
		t.Fatalf("%d certificates recorded, want 1", len(list))
	}
}

func TestRedeemEnrollToken(t *testing.T) {
	ctx := context.Background()
	db := sqlitetest.Open(t)
	newClient(t, db, "svc")
	insert := func(name string, expires time.Time) {
		if err := db.InsertEnrollToken(ctx, storage.EnrollToken{Hash: hash(name), ClientID: "svc", DNSNames: []string{"svc.internal"},
			CreatedAt: t0, ExpiresAt: expires}); err != nil {
			t.Fatal(err)
		}
	}
	insert("good", t0.Add(time.Hour))
	insert("expired", t0.Add(-time.Second))
	insert("rolled-back", t0.Add(time.Hour))

	if err := db.InsertEnrollToken(ctx, storage.EnrollToken{Hash: hash("x"), ClientID: "nobody", ExpiresAt: t0}); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("token for unknown client: %v", err)
	}
	t.Run("accept/dns names reach issue", func(t *testing.T) {
		_, err := db.RedeemEnrollToken(ctx, hash("good"), t0, func(tk storage.EnrollToken, c storage.Client) (storage.Certificate, error) {
			if len(tk.DNSNames) != 1 || tk.DNSNames[0] != "svc.internal" || c.ID != "svc" {
				t.Errorf("token %+v client %+v", tk, c.ID)
			}
			return certFor("01")(tk, c)
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	for _, tc := range []struct{ name, token string }{
		{"reject/used", "good"}, {"reject/expired", "expired"}, {"reject/unknown", "never-minted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := db.RedeemEnrollToken(ctx, hash(tc.token), t0, certFor("02"))
			if !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("got %v, want ErrNotFound", err)
			}
		})
	}
	t.Run("accept/an issue error does not burn the token", func(t *testing.T) {
		boom := errors.New("bad csr")
		_, err := db.RedeemEnrollToken(ctx, hash("rolled-back"), t0, func(storage.EnrollToken, storage.Client) (storage.Certificate, error) {
			return storage.Certificate{}, boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("got %v", err)
		}
		if _, err := db.RedeemEnrollToken(ctx, hash("rolled-back"), t0, certFor("03")); err != nil {
			t.Fatalf("token was burnt by a failed issue: %v", err)
		}
	})
	t.Run("reject/duplicate serial rolls back", func(t *testing.T) {
		insert("dup", t0.Add(time.Hour))
		_, err := db.RedeemEnrollToken(ctx, hash("dup"), t0, certFor("01"))
		if !errors.Is(err, storage.ErrConflict) {
			t.Fatalf("got %v, want ErrConflict", err)
		}
		if _, err := db.RedeemEnrollToken(ctx, hash("dup"), t0, certFor("04")); err != nil {
			t.Fatalf("token burnt by rolled-back insert: %v", err)
		}
	})
}

// TestRenewKeepsAnEarlierFirstUse: the renewal records the old certificate's
// first use only when none is recorded.
func TestRenewKeepsAnEarlierFirstUse(t *testing.T) {
	ctx := context.Background()
	db := sqlitetest.Open(t)
	newClient(t, db, "svc")
	importCert(t, db, "aa", "svc", t0.Add(time.Hour))
	if err := db.MarkCertificateUsed(ctx, "aa", t0); err != nil {
		t.Fatal(err)
	}
	_, err := db.RenewCertificate(ctx, "aa", t0.Add(time.Minute), func(old storage.Certificate, c storage.Client) (storage.Certificate, error) {
		return storage.Certificate{Serial: "bb", ClientID: c.ID, Fingerprint: "fp-bb", NotBefore: t0, NotAfter: t0.Add(time.Hour), CreatedAt: t0}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if used, err := db.CertificateFirstUsed(ctx, "aa"); err != nil || !used.Equal(t0) {
		t.Fatalf("first use after the renewal: %v %v, want %v", used, err, t0)
	}
}

func TestRenewAndRevoke(t *testing.T) {
	ctx := context.Background()
	db := sqlitetest.Open(t)
	newClient(t, db, "svc")
	if err := db.InsertEnrollToken(ctx, storage.EnrollToken{Hash: hash("T"), ClientID: "svc", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.RedeemEnrollToken(ctx, hash("T"), t0, certFor("aa")); err != nil {
		t.Fatal(err)
	}
	renewTo := func(serial string) storage.RenewFunc {
		return func(old storage.Certificate, c storage.Client) (storage.Certificate, error) {
			return storage.Certificate{Serial: serial, ClientID: c.ID, Fingerprint: "fp-" + serial, NotBefore: t0, NotAfter: t0.Add(time.Hour), CreatedAt: t0}, nil
		}
	}
	next, err := db.RenewCertificate(ctx, "aa", t0.Add(time.Minute), renewTo("bb"))
	if err != nil || next.RenewedFrom != "aa" {
		t.Fatalf("renew: %+v %v", next, err)
	}
	old, _ := db.GetCertificate(ctx, "aa")
	if old.SupersededBy != "bb" {
		t.Fatalf("old not superseded: %+v", old)
	}
	// The renewal is the old certificate's use; the new one is not used yet.
	if used, err := db.CertificateFirstUsed(ctx, "aa"); err != nil || !used.Equal(t0.Add(time.Minute)) {
		t.Fatalf("first use of the renewed certificate: %v %v, want %v", used, err, t0.Add(time.Minute))
	}
	if used, err := db.CertificateFirstUsed(ctx, "bb"); err != nil || !used.IsZero() {
		t.Fatalf("first use of the new certificate: %v %v, want none", used, err)
	}
	if _, err := db.RenewCertificate(ctx, "aa", t0.Add(2*time.Minute), renewTo("cc")); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("second renewal of the same certificate: %v, want ErrConflict", err)
	}
	if _, err := db.GetCertificate(ctx, "cc"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("refused renewal left a record: %v", err)
	}
	if used, _ := db.CertificateFirstUsed(ctx, "aa"); !used.Equal(t0.Add(time.Minute)) {
		t.Fatalf("a refused renewal changed the first use: %v", used)
	}
	if r, _ := db.CertificateRevoked(ctx, "bb"); r {
		t.Fatal("fresh certificate reported revoked")
	}
	if r, _ := db.CertificateRevoked(ctx, "unknown"); !r {
		t.Fatal("unknown serial must count as revoked")
	}
	if _, err := db.RevokeCertificate(ctx, "bb", "key compromise", t0); err != nil {
		t.Fatal(err)
	}
	if r, _ := db.CertificateRevoked(ctx, "bb"); !r {
		t.Fatal("revoked certificate reported good")
	}
	if c, err := db.RevokeCertificate(ctx, "bb", "again", t0.Add(time.Hour)); err != nil || c.RevocationReason != "key compromise" {
		t.Fatalf("second revoke must keep the first: %+v %v", c, err)
	}
	if _, err := db.RevokeCertificate(ctx, "zz", "", t0); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("revoke unknown: %v", err)
	}
	// aa was renewed into bb, which is revoked: nothing of svc's is active.
	active, _ := db.ListCertificates(ctx, storage.CertificateFilter{ClientID: "svc", State: storage.StateActive, At: t0.Add(time.Minute)})
	superseded, _ := db.ListCertificates(ctx, storage.CertificateFilter{ClientID: "svc", State: storage.StateSuperseded, At: t0.Add(time.Minute)})
	if len(active) != 0 || len(superseded) != 1 || superseded[0].Serial != "aa" {
		t.Fatalf("active = %+v, superseded = %+v", active, superseded)
	}
	if err := db.DeleteClient(ctx, "svc", t0); err != nil {
		t.Fatal(err)
	}
	if r, _ := db.CertificateRevoked(ctx, "aa"); !r {
		t.Fatal("deleting a client must revoke its certificates")
	}
}

func TestSigningKeysRotation(t *testing.T) {
	ctx := context.Background()
	db := sqlitetest.Open(t)
	k1 := storage.SigningKey{KID: "k1", Alg: "ES256", PrivatePEM: "pem1", CreatedAt: t0}
	if err := db.RotateSigningKey(ctx, k1, t0); err != nil {
		t.Fatal(err)
	}
	k2 := storage.SigningKey{KID: "k2", Alg: "ES256", PrivatePEM: "pem2", CreatedAt: t0.Add(time.Hour)}
	if err := db.RotateSigningKey(ctx, k2, t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	keys, _ := db.SigningKeys(ctx, t0.Add(90*time.Minute))
	if len(keys) != 2 || keys[0].KID != "k2" || !keys[0].RetiredAt.IsZero() || keys[1].RetiredAt.IsZero() {
		t.Fatalf("keys = %+v", keys)
	}
	keys, _ = db.SigningKeys(ctx, t0.Add(3*time.Hour))
	if len(keys) != 1 || keys[0].KID != "k2" {
		t.Fatalf("retired key still published after its last token: %+v", keys)
	}
}

// TestSigningKeysSameSecond: keys rotated within one second (a fixed clock)
// still come newest first, whatever their kids.
func TestSigningKeysSameSecond(t *testing.T) {
	ctx := context.Background()
	db := sqlitetest.Open(t)
	for _, kid := range []string{"b", "a", "c"} {
		if err := db.RotateSigningKey(ctx, storage.SigningKey{KID: kid, Alg: "ES256", PrivatePEM: "pem-" + kid, CreatedAt: t0}, t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	keys, err := db.SigningKeys(ctx, t0)
	if err != nil || len(keys) != 3 || keys[0].KID != "c" || keys[1].KID != "a" || keys[2].KID != "b" || !keys[0].RetiredAt.IsZero() {
		t.Fatalf("keys = %+v, %v; want c (current), a, b", keys, err)
	}
}

// TestConformance: SQLite keeps the promises every backend must keep
// (storagetest.Run), on a real file in t.TempDir().
func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t testing.TB) storage.Store { return sqlitetest.Open(t) })
}
