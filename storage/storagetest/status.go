package storagetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/certbound/certbound/ca"
	"github.com/certbound/certbound/storage"
)

// StatusBackend is what StatusSource needs of a backend: the ca.StatusSource
// under test and the writes that set up and change what it answers.
type StatusBackend interface {
	ca.StatusSource
	CreateClient(ctx context.Context, c storage.Client) error
	InsertEnrollToken(ctx context.Context, t storage.EnrollToken) error
	RedeemEnrollToken(ctx context.Context, hash []byte, now time.Time, issue storage.IssueFunc) (storage.Certificate, error)
	RevokeCertificate(ctx context.Context, serial, reason string, now time.Time) (storage.Certificate, error)
	DisableClient(ctx context.Context, id string, now time.Time) error
	DeleteClient(ctx context.Context, id string, now time.Time) error
}

// StatusSource checks the rules of ca.StatusSource on an empty backend, so
// that every backend answers ca.VerifyClient the same way (SECURITY.md: an
// unknown serial counts as revoked):
//   - an unknown serial is revoked (fail closed), a recorded one is not until
//     it is revoked, and a revocation applies to the very next call;
//   - an unknown client fails with an error wrapping ca.ErrUnknownClient or
//     reports (true, nil); an enabled client is not disabled, a disabled one
//     is, at once; a deleted client is unknown (or disabled) and its
//     certificates are revoked.
//
// Each rule runs as a subtest named accept/… or reject/….
func StatusSource(t *testing.T, b StatusBackend) {
	t.Helper()
	ctx := context.Background()
	now := time.Now().Truncate(time.Second)
	record := func(t *testing.T, client, serial string) {
		t.Helper()
		hash := sha256.Sum256([]byte("token for " + serial))
		if err := b.InsertEnrollToken(ctx, storage.EnrollToken{Hash: hash[:], ClientID: client, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatalf("storagetest: insert token: %v", err)
		}
		_, err := b.RedeemEnrollToken(ctx, hash[:], now, func(storage.EnrollToken, storage.Client) (storage.Certificate, error) {
			return storage.Certificate{Serial: serial, ClientID: client, Fingerprint: fmt.Sprintf("%064x", sha256.Sum256([]byte(serial))),
				NotBefore: now, NotAfter: now.Add(time.Hour), CreatedAt: now}, nil
		})
		if err != nil {
			t.Fatalf("storagetest: record %s: %v", serial, err)
		}
	}
	revoked := func(t *testing.T, serial string) bool {
		t.Helper()
		r, err := b.CertificateRevoked(ctx, serial)
		if err != nil {
			t.Fatalf("CertificateRevoked(%s): %v", serial, err)
		}
		return r
	}
	// unknownOrDisabled: the two answers ca.VerifyClient refuses a client with.
	unknownOrDisabled := func(t *testing.T, id string) {
		t.Helper()
		off, err := b.ClientDisabled(ctx, id)
		if err != nil && !errors.Is(err, ca.ErrUnknownClient) {
			t.Fatalf("ClientDisabled(%s): %v, want an error wrapping ca.ErrUnknownClient or (true, nil)", id, err)
		}
		if err == nil && !off {
			t.Fatalf("ClientDisabled(%s) = false, nil: an unknown client must not authenticate", id)
		}
	}
	for _, id := range []string{"st-svc", "st-off", "st-gone"} {
		if err := b.CreateClient(ctx, storage.Client{ID: id, AuthMethod: "tls_client_auth", GrantTypes: []string{"client_credentials"},
			CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatalf("storagetest: create %s: %v", id, err)
		}
	}

	t.Run("reject/unknown serial is revoked", func(t *testing.T) {
		for _, serial := range []string{"00", "0123456789abcdef0123456789abcdef", ""} {
			if !revoked(t, serial) {
				t.Fatalf("unknown serial %q is not revoked", serial)
			}
		}
	})
	t.Run("accept/recorded serial", func(t *testing.T) {
		record(t, "st-svc", "5e1a1")
		if revoked(t, "5e1a1") {
			t.Fatal("a recorded, unrevoked serial is revoked")
		}
	})
	t.Run("reject/revoked serial, at once", func(t *testing.T) {
		record(t, "st-svc", "5e1a2")
		_ = revoked(t, "5e1a2") // a cache may hold the answer now
		if _, err := b.RevokeCertificate(ctx, "5e1a2", "test", now); err != nil {
			t.Fatal(err)
		}
		if !revoked(t, "5e1a2") {
			t.Fatal("a revoked serial is not revoked at the next call")
		}
		if revoked(t, "5e1a1") {
			t.Fatal("revoking one serial revoked another")
		}
	})
	t.Run("reject/unknown client", func(t *testing.T) { unknownOrDisabled(t, "st-nobody") })
	t.Run("accept/enabled client", func(t *testing.T) {
		off, err := b.ClientDisabled(ctx, "st-svc")
		if err != nil || off {
			t.Fatalf("ClientDisabled(enabled) = %v, %v", off, err)
		}
	})
	t.Run("reject/disabled client, at once", func(t *testing.T) {
		if off, err := b.ClientDisabled(ctx, "st-off"); err != nil || off {
			t.Fatalf("before: %v %v", off, err)
		}
		if err := b.DisableClient(ctx, "st-off", now); err != nil {
			t.Fatal(err)
		}
		if off, err := b.ClientDisabled(ctx, "st-off"); err != nil || !off {
			t.Fatalf("ClientDisabled after disabling = %v, %v", off, err)
		}
	})
	t.Run("reject/deleted client and its certificates", func(t *testing.T) {
		record(t, "st-gone", "5e1a3")
		if off, err := b.ClientDisabled(ctx, "st-gone"); err != nil || off || revoked(t, "5e1a3") {
			t.Fatalf("before: %v %v", off, err)
		}
		if err := b.DeleteClient(ctx, "st-gone", now); err != nil {
			t.Fatal(err)
		}
		unknownOrDisabled(t, "st-gone")
		if !revoked(t, "5e1a3") {
			t.Fatal("the certificate of a deleted client is not revoked")
		}
	})
}
