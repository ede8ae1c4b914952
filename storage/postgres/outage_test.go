package postgres_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/certbound/certbound/storage"
	"github.com/certbound/certbound/storage/postgres/pgtest"
)

// While the database refuses connections and has dropped the ones it had,
// every operation fails with storage.ErrUnavailable (the server's 503), not
// some other error; once it accepts connections again, the same DB serves
// again without being reopened — its pool dials anew and its listener
// reconnects.
func TestOutageAndRecovery(t *testing.T) {
	url := pgtest.URL(t)
	db := open(t, url)
	newClient(t, db, "svc")
	cert := enroll(t, db, "svc")
	hash := newToken(t, db, "svc")

	admin := pgtest.Admin(t)
	name := dbName(t, url)
	if _, err := admin.Exec(ctx, `ALTER DATABASE `+name+` ALLOW_CONNECTIONS false`); err != nil {
		t.Fatal(err)
	}
	allowed := false
	allow := func() {
		if !allowed {
			allowed = true
			if _, err := admin.Exec(ctx, `ALTER DATABASE `+name+` ALLOW_CONNECTIONS true`); err != nil {
				t.Fatal(err)
			}
		}
	}
	defer allow()
	if n := pgtest.Terminate(t, url, ""); n == 0 {
		t.Fatal("no connection terminated")
	}

	ops := []struct {
		name string
		op   func() error
	}{
		{"Ping", func() error { return db.Ping(ctx) }},
		{"GetClient", func() error { _, err := db.GetClient(ctx, "svc"); return err }},
		{"CreateClient", func() error {
			return db.CreateClient(ctx, storage.Client{ID: "other", AuthMethod: "tls_client_auth", CreatedAt: db.Now(), UpdatedAt: db.Now()})
		}},
		{"RedeemEnrollToken", func() error {
			_, err := db.RedeemEnrollToken(ctx, hash, db.Now(), func(_ storage.EnrollToken, c storage.Client) (storage.Certificate, error) {
				return certFor(c.ID, db.Now()), nil
			})
			return err
		}},
		{"CertificateRevoked", func() error { _, err := db.CertificateRevoked(ctx, cert.Serial); return err }},
		{"RevokeCertificate", func() error { _, err := db.RevokeCertificate(ctx, cert.Serial, "x", db.Now()); return err }},
		{"ListAuditEvents", func() error { _, err := db.ListAuditEvents(ctx, storage.AuditFilter{}); return err }},
	}
	for _, o := range ops {
		if err := o.op(); !errors.Is(err, storage.ErrUnavailable) {
			t.Errorf("reject/%s during the outage = %v, want ErrUnavailable", o.name, err)
		}
	}

	allow()
	eventually(t, 10*time.Second, "Ping after the outage", func() bool { return db.Ping(ctx) == nil })
	if _, err := db.RedeemEnrollToken(ctx, hash, db.Now(), func(_ storage.EnrollToken, c storage.Client) (storage.Certificate, error) {
		return certFor(c.ID, db.Now()), nil
	}); err != nil {
		t.Errorf("accept/RedeemEnrollToken after the outage: %v (the token must still be unused)", err)
	}
	if r, err := db.CertificateRevoked(ctx, cert.Serial); err != nil || r {
		t.Errorf("CertificateRevoked after the outage = %v, %v; want false (the revocation during the outage failed)", r, err)
	}
}

// When the server drops every connection (as a restart does) and accepts
// new ones at once, the pool's dead connections cost no caller an error:
// the first call that meets one resets the pool and runs again on a fresh
// connection — a read always, a transaction when it failed before its
// COMMIT was sent (nothing of it was committed).
func TestDroppedConnectionsAreReplaced(t *testing.T) {
	url := pgtest.URL(t)
	db := open(t, url)
	newClient(t, db, "svc")
	for round := range 3 {
		// Fill the pool: three callers at once hold three connections.
		var wg sync.WaitGroup
		for range testPoolSize {
			wg.Go(func() { db.Ping(ctx) })
		}
		wg.Wait()
		if n := pgtest.Terminate(t, url, ""); n == 0 {
			t.Fatal("no connection terminated")
		}
		// At once: pgxpool pings a connection idle for a second or more
		// before handing it out, which would hide what this checks.
		var errs []error
		if _, err := db.ListClients(ctx, "", 0); err != nil {
			errs = append(errs, err)
		}
		if err := db.DisableClient(ctx, "svc", db.Now()); err != nil {
			errs = append(errs, err)
		}
		if _, err := db.CountClients(ctx); err != nil {
			errs = append(errs, err)
		}
		if len(errs) > 0 {
			t.Fatalf("round %d: calls right after every connection was dropped: %v", round, errs)
		}
	}
}
