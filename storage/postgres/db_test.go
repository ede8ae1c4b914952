package postgres_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/certbound/certbound/storage"

	"github.com/certbound/certbound/storage/postgres"
	"github.com/certbound/certbound/storage/postgres/pgtest"
)

// testPoolSize keeps each test's footprint small: several test packages
// share the server's max_connections.
const testPoolSize = 3

// open opens a DB (migrating) on url, closed when t ends.
func open(t testing.TB, url string) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), url, postgres.Options{PoolSize: testPoolSize, Migrate: true})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// openFresh opens a DB on a database of its own.
func openFresh(t testing.TB) *postgres.DB {
	t.Helper()
	return open(t, pgtest.URL(t))
}

// Record helpers: plain records, as the domain packages would store them.

var ctx = context.Background()

func newClient(t testing.TB, db *postgres.DB, id string) {
	t.Helper()
	now := db.Now()
	if err := db.CreateClient(ctx, storage.Client{ID: id, AuthMethod: "tls_client_auth", GrantTypes: []string{"client_credentials"},
		Scopes: []string{"read"}, Audiences: []string{"api"}, CreatedAt: now, UpdatedAt: now, Generation: []byte("gen-" + id)}); err != nil {
		t.Fatalf("CreateClient(%s): %v", id, err)
	}
}

// newToken stores an enrollment token of client valid for an hour and
// returns its hash.
func newToken(t testing.TB, db *postgres.DB, client string) []byte {
	t.Helper()
	hash := make([]byte, 32)
	rand.Read(hash)
	now := db.Now()
	if err := db.InsertEnrollToken(ctx, storage.EnrollToken{Hash: hash, ClientID: client, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatalf("InsertEnrollToken: %v", err)
	}
	return hash
}

// certFor is an issue function's record: a fresh random serial for client.
func certFor(client string, now time.Time) storage.Certificate {
	serial := make([]byte, 16)
	rand.Read(serial)
	fp := sha256.Sum256(serial)
	return storage.Certificate{Serial: hex.EncodeToString(serial), ClientID: client, Fingerprint: hex.EncodeToString(fp[:]),
		NotBefore: now.Truncate(time.Second), NotAfter: now.Add(24 * time.Hour).Truncate(time.Second), CreatedAt: now.Truncate(time.Second)}
}

// enroll redeems a fresh token of client and returns the certificate.
func enroll(t testing.TB, db *postgres.DB, client string) storage.Certificate {
	t.Helper()
	hash := newToken(t, db, client)
	c, err := db.RedeemEnrollToken(ctx, hash, db.Now(), func(tok storage.EnrollToken, cl storage.Client) (storage.Certificate, error) {
		return certFor(cl.ID, db.Now()), nil
	})
	if err != nil {
		t.Fatalf("RedeemEnrollToken: %v", err)
	}
	return c
}

// eventually polls cond every 10 ms until it holds or within passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}
