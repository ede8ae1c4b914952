package postgres_test

import (
	"bytes"
	"errors"
	neturl "net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/certbound/certbound/storage"
	"github.com/certbound/certbound/storage/postgres"
	"github.com/certbound/certbound/storage/postgres/pgtest"
)

// Two replicas (two DBs on one database): 50 goroutines, half on each,
// redeem one token → exactly one certificate recorded, the others
// ErrNotFound.
func TestRedeemOnceAcrossReplicas(t *testing.T) {
	url := pgtest.URL(t)
	dbs := []*postgres.DB{open(t, url), open(t, url)}
	newClient(t, dbs[0], "svc")
	hash := newToken(t, dbs[0], "svc")

	var issued, won atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	start := make(chan struct{})
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db := dbs[i%2]
			<-start
			_, err := db.RedeemEnrollToken(ctx, hash, db.Now(), func(_ storage.EnrollToken, c storage.Client) (storage.Certificate, error) {
				issued.Add(1)
				return certFor(c.ID, db.Now()), nil
			})
			if err == nil {
				won.Add(1)
			} else if !errors.Is(err, storage.ErrNotFound) {
				errs <- err
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("redeem: %v, want nil or ErrNotFound", err)
	}
	if won.Load() != 1 || issued.Load() != 1 {
		t.Errorf("%d redemptions succeeded, issue ran %d times; want 1 and 1", won.Load(), issued.Load())
	}
	certs, err := dbs[1].ListCertificates(ctx, storage.CertificateFilter{ClientID: "svc"})
	if err != nil || len(certs) != 1 {
		t.Fatalf("certificates recorded: %d (%v), want 1", len(certs), err)
	}
	if st, _ := dbs[1].EnrollTokenState(ctx, hash, dbs[1].Now()); st != storage.TokenUsed {
		t.Errorf("token state %q, want used", st)
	}
}

// One certificate renewed on two replicas at once, 10 goroutines each →
// exactly one successor; every other renewal waited for the winner and saw
// the certificate superseded, as a second renewal on SQLite does (enroll's
// clone detection depends on it), instead of signing on a stale read and
// losing at the UPDATE (ErrConflict).
func TestRenewOnceAcrossReplicas(t *testing.T) {
	url := pgtest.URL(t)
	dbs := []*postgres.DB{open(t, url), open(t, url)}
	newClient(t, dbs[0], "svc")
	old := enroll(t, dbs[0], "svc")
	errSuperseded := errors.New("already renewed")

	var won atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	start := make(chan struct{})
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db := dbs[i%2]
			<-start
			_, err := db.RenewCertificate(ctx, old.Serial, db.Now(), func(o storage.Certificate, c storage.Client) (storage.Certificate, error) {
				if o.SupersededBy != "" {
					return storage.Certificate{}, errSuperseded
				}
				return certFor(c.ID, db.Now()), nil
			})
			switch {
			case err == nil:
				won.Add(1)
			case errors.Is(err, errSuperseded):
			default:
				errs <- err
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("renew: %v", err)
	}
	if won.Load() != 1 {
		t.Errorf("%d renewals succeeded, want 1", won.Load())
	}
	certs, err := dbs[1].ListCertificates(ctx, storage.CertificateFilter{ClientID: "svc"})
	if err != nil || len(certs) != 2 {
		t.Fatalf("certificates recorded: %d (%v), want 2 (the old one and one successor)", len(certs), err)
	}
}

// A write through one replica reaches a subscriber of another within
// NotifiedStaleness, and the other's status cache does not answer from
// before it: a revocation and a disabled client are refused there at once.
func TestChangeFeedAcrossReplicas(t *testing.T) {
	url := pgtest.URL(t)
	a, b := open(t, url), open(t, url)
	got := make(chan storage.ChangeKind, 100)
	cancel := b.Subscribe(func(k storage.ChangeKind) { got <- k })
	defer cancel()

	newClient(t, a, "svc")
	waitKind(t, got, storage.ChangeClients)
	cert := enroll(t, a, "svc")

	// Warm b's cache: these answers are now held in memory.
	for range 3 {
		if r, err := b.CertificateRevoked(ctx, cert.Serial); err != nil || r {
			t.Fatalf("CertificateRevoked on b = %v, %v before the revocation", r, err)
		}
		if d, err := b.ClientDisabled(ctx, "svc"); err != nil || d {
			t.Fatalf("ClientDisabled on b = %v, %v before disabling", d, err)
		}
	}

	if _, err := a.RevokeCertificate(ctx, cert.Serial, "test", a.Now()); err != nil {
		t.Fatal(err)
	}
	took := eventually(t, storage.NotifiedStaleness, "b sees the revocation made on a", func() bool {
		r, err := b.CertificateRevoked(ctx, cert.Serial)
		return err == nil && r
	})
	t.Logf("revocation seen on b after %v", took)
	waitKind(t, got, storage.ChangeCertificates)

	if err := a.DisableClient(ctx, "svc", a.Now()); err != nil {
		t.Fatal(err)
	}
	eventually(t, storage.NotifiedStaleness, "b sees the client disabled on a", func() bool {
		d, err := b.ClientDisabled(ctx, "svc")
		return err == nil && d
	})
	waitKind(t, got, storage.ChangeClients)

	if err := a.RotateSigningKey(ctx, storage.SigningKey{KID: "k1", Alg: "ES256", PrivatePEM: "pem", CreatedAt: a.Now()}, a.Now()); err != nil {
		t.Fatal(err)
	}
	waitKind(t, got, storage.ChangeSigningKeys)
	if err := a.InsertAdminKey(ctx, storage.AdminKey{Name: "ops", Hash: bytes.Repeat([]byte{1}, 32), CreatedAt: a.Now()}); err != nil {
		t.Fatal(err)
	}
	waitKind(t, got, storage.ChangeAdminKeys)
}

// waitKind waits up to NotifiedStaleness for kind (or ChangeAll) to be
// delivered.
func waitKind(t *testing.T, got <-chan storage.ChangeKind, kind storage.ChangeKind) {
	t.Helper()
	deadline := time.After(storage.NotifiedStaleness)
	for {
		select {
		case k := <-got:
			if k == kind || k == storage.ChangeAll {
				return
			}
		case <-deadline:
			t.Fatalf("no %q change delivered within %v", kind, storage.NotifiedStaleness)
		}
	}
}

// When its listener connection is killed, a replica does not answer from
// its cache what it cannot know is current: while the listener is down (here
// kept down: the database refuses new connections, the pools keep theirs),
// a revocation made on another replica is refused at the very next read.
// The listener comes back when it can, and the subscribers get ChangeAll.
func TestListenerLoss(t *testing.T) {
	url := pgtest.URL(t)
	a, b := open(t, url), open(t, url)
	got := make(chan storage.ChangeKind, 100)
	cancel := b.Subscribe(func(k storage.ChangeKind) { got <- k })
	defer cancel()
	newClient(t, a, "svc")
	cert := enroll(t, a, "svc")
	for range 3 { // cached on b from here on
		if r, err := b.CertificateRevoked(ctx, cert.Serial); err != nil || r {
			t.Fatalf("CertificateRevoked on b = %v, %v before the revocation", r, err)
		}
	}

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
	pid := postgres.ListenerPID(b)
	var ok bool
	if err := admin.QueryRow(ctx, `SELECT pg_terminate_backend($1)`, int64(pid)).Scan(&ok); err != nil || !ok {
		t.Fatalf("terminate b's listener (pid %d): %v, %v", pid, ok, err)
	}
	eventually(t, 5*time.Second, "b notices its listener is gone", func() bool { return !postgres.Listening(b) })

	if _, err := a.RevokeCertificate(ctx, cert.Serial, "test", a.Now()); err != nil {
		t.Fatal(err)
	}
	if r, err := b.CertificateRevoked(ctx, cert.Serial); err != nil || !r {
		t.Fatalf("CertificateRevoked on b right after the revocation on a, b's listener down = %v, %v; want true", r, err)
	}

	allow()
	deadline := time.After(storage.MaxStaleness)
	for k := storage.ChangeKind(""); k != storage.ChangeAll; {
		select {
		case k = <-got:
		case <-deadline:
			t.Fatal("no ChangeAll after the listener came back")
		}
	}
	if !postgres.Listening(b) || postgres.ListenerPID(b) == pid {
		t.Errorf("after ChangeAll: listening %v, listener pid %d (the terminated one was %d)", postgres.Listening(b), postgres.ListenerPID(b), pid)
	}
	// And the feed works again.
	newClient(t, a, "svc2")
	waitKind(t, got, storage.ChangeClients)
}

// dbName is the database a pgtest URL names.
func dbName(t testing.TB, url string) string {
	t.Helper()
	u, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	return u.Path[1:]
}

// InitCA called at the same moment by three replicas: one creation stored,
// all three get the same material.
func TestInitCAOnce(t *testing.T) {
	url := pgtest.URL(t)
	dbs := []*postgres.DB{open(t, url), open(t, url), open(t, url)}
	if _, err := dbs[0].LoadCA(ctx); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("LoadCA on an empty database = %v, want ErrNotFound", err)
	}
	var creates atomic.Int32
	type result struct {
		m       storage.CAMaterial
		created bool
		err     error
	}
	results := make([]result, len(dbs))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, db := range dbs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			m, created, err := db.InitCA(ctx, func() (storage.CAMaterial, error) {
				n := creates.Add(1)
				time.Sleep(50 * time.Millisecond) // signing takes a while
				return storage.CAMaterial{RootCertPEM: []byte{byte(n)}, RootKeyPEM: []byte("rk"), IntermediateCertPEM: []byte("ic"),
					IntermediateKeyPEM: []byte("ik"), CreatedAt: time.Now()}, nil
			})
			results[i] = result{m, created, err}
		}()
	}
	close(start)
	wg.Wait()
	if n := creates.Load(); n != 1 {
		t.Errorf("create ran %d times, want 1", n)
	}
	var nCreated int
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("replica %d: InitCA: %v", i, r.err)
		}
		if r.created {
			nCreated++
		}
		if !bytes.Equal(r.m.RootCertPEM, results[0].m.RootCertPEM) || !r.m.CreatedAt.Equal(results[0].m.CreatedAt) {
			t.Errorf("replica %d got other material than replica 0", i)
		}
	}
	if nCreated != 1 {
		t.Errorf("%d calls report created, want 1", nCreated)
	}
	loaded, err := dbs[2].LoadCA(ctx)
	if err != nil || !bytes.Equal(loaded.RootCertPEM, results[0].m.RootCertPEM) || !bytes.Equal(loaded.IntermediateKeyPEM, []byte("ik")) {
		t.Errorf("LoadCA = %v, %v; want what InitCA returned", loaded.RootCertPEM, err)
	}
}

// The clock offset to a server on the same host is small, and Now follows it.
func TestClockOffset(t *testing.T) {
	db := openFresh(t)
	if off := db.ClockOffset(); off > 50*time.Millisecond || off < -50*time.Millisecond {
		t.Errorf("offset to a server on this host = %v, want within ±50ms", off)
	}
	if d := db.Now().Sub(time.Now()); d > time.Second || d < -time.Second {
		t.Errorf("Now is %v from the local clock", d)
	}
}
