package storagetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"testing"
	"time"

	"github.com/certbound/certbound/storage"
)

// t0 is the suite's clock: every time passed to the store derives from it,
// so that the backends are held to deciding expiry and single use against
// the now they are given.
var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// fixture is a store and the shortcuts that fill it through Store alone.
type fixture struct {
	t   testing.TB
	ctx context.Context
	s   storage.Store
}

func newFixture(t testing.TB, open Opener) *fixture {
	return &fixture{t: t, ctx: context.Background(), s: open(t)}
}

// on returns f for another (sub)test, so that failures name it.
func (f *fixture) on(t testing.TB) *fixture { return &fixture{t: t, ctx: f.ctx, s: f.s} }

func hash(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }

// fingerprint is the hex SHA-256 a certificate record carries: one per serial.
func fingerprint(serial string) string { return hex.EncodeToString(hash("der of " + serial)) }

// client creates a client with id.
func (f *fixture) client(id string) storage.Client {
	f.t.Helper()
	c := storage.Client{ID: id, Name: id, Scopes: []string{"event.create", "event.read"}, Audiences: []string{"event"},
		GrantTypes: []string{"client_credentials"}, AuthMethod: "tls_client_auth", SANURI: "spiffe://certbound.test/" + id,
		CreatedAt: t0, UpdatedAt: t0, Generation: hash("generation of " + id)[:16]}
	if err := f.s.CreateClient(f.ctx, c); err != nil {
		f.t.Fatalf("CreateClient(%s): %v", id, err)
	}
	return c
}

// token inserts an enrollment token named name (its hash is hash(name)).
func (f *fixture) token(name, client string, expires time.Time) []byte {
	f.t.Helper()
	if err := f.s.InsertEnrollToken(f.ctx, storage.EnrollToken{Hash: hash(name), ClientID: client, DNSNames: []string{client + ".internal"},
		CreatedAt: t0, ExpiresAt: expires}); err != nil {
		f.t.Fatalf("InsertEnrollToken(%s): %v", name, err)
	}
	return hash(name)
}

// record is the certificate record an issue function returns.
func record(serial, client string, notAfter time.Time) storage.Certificate {
	return storage.Certificate{Serial: serial, ClientID: client, Fingerprint: fingerprint(serial),
		NotBefore: t0.Add(-48 * time.Hour), NotAfter: notAfter, CreatedAt: t0}
}

// issueAs is an IssueFunc that records serial, valid until notAfter.
func issueAs(serial string, notAfter time.Time) storage.IssueFunc {
	return func(_ storage.EnrollToken, c storage.Client) (storage.Certificate, error) {
		return record(serial, c.ID, notAfter), nil
	}
}

// renewAs is a RenewFunc that records serial, valid until notAfter.
func renewAs(serial string, notAfter time.Time) storage.RenewFunc {
	return func(_ storage.Certificate, c storage.Client) (storage.Certificate, error) {
		return record(serial, c.ID, notAfter), nil
	}
}

// enroll records the certificate serial of client through a fresh token
// redeemed at t0.
func (f *fixture) enroll(client, serial string, notAfter time.Time) storage.Certificate {
	f.t.Helper()
	tok := f.token("token for "+serial, client, t0.Add(time.Hour))
	c, err := f.s.RedeemEnrollToken(f.ctx, tok, t0, issueAs(serial, notAfter))
	if err != nil {
		f.t.Fatalf("enroll %s: %v", serial, err)
	}
	return c
}

// renew renews old into serial at t0.
func (f *fixture) renew(old, serial string, notAfter time.Time) storage.Certificate {
	f.t.Helper()
	c, err := f.s.RenewCertificate(f.ctx, old, t0, renewAs(serial, notAfter))
	if err != nil {
		f.t.Fatalf("renew %s into %s: %v", old, serial, err)
	}
	return c
}

func (f *fixture) cert(serial string) storage.Certificate {
	f.t.Helper()
	c, err := f.s.GetCertificate(f.ctx, serial)
	if err != nil {
		f.t.Fatalf("GetCertificate(%s): %v", serial, err)
	}
	return c
}

func (f *fixture) revoked(serial string) bool {
	f.t.Helper()
	r, err := f.s.CertificateRevoked(f.ctx, serial)
	if err != nil {
		f.t.Fatalf("CertificateRevoked(%s): %v", serial, err)
	}
	return r
}

func (f *fixture) disabled(id string) bool {
	f.t.Helper()
	d, err := f.s.ClientDisabled(f.ctx, id)
	if err != nil {
		f.t.Fatalf("ClientDisabled(%s): %v", id, err)
	}
	return d
}

func (f *fixture) tokenState(tok []byte, now time.Time) string {
	f.t.Helper()
	st, err := f.s.EnrollTokenState(f.ctx, tok, now)
	if err != nil {
		f.t.Fatalf("EnrollTokenState: %v", err)
	}
	return st
}

func (f *fixture) serials(filter storage.CertificateFilter) []string {
	f.t.Helper()
	list, err := f.s.ListCertificates(f.ctx, filter)
	if err != nil {
		f.t.Fatalf("ListCertificates(%+v): %v", filter, err)
	}
	out := []string{}
	for _, c := range list {
		out = append(out, c.Serial)
	}
	return out
}

// race runs fn(0) … fn(n-1) on n goroutines released at the same moment, so
// that they overlap as much as the scheduler allows, and waits for them.
func race(n int, fn func(i int)) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			fn(i)
		})
	}
	close(start)
	wg.Wait()
}
