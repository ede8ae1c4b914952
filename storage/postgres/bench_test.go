package postgres_test

import (
	"crypto/rand"
	"testing"
	"time"

	"github.com/certbound/certbound/storage"
	"github.com/certbound/certbound/storage/postgres"
	"github.com/certbound/certbound/storage/postgres/pgtest"
)

// BenchmarkRedeem: the enrollment transaction (token consumed, certificate
// recorded), from parallel callers on one DB with the default pool.
func BenchmarkRedeem(b *testing.B) {
	db, err := postgres.Open(ctx, pgtest.URL(b), postgres.Options{Migrate: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	newClient(b, db, "svc")
	now := db.Now()
	hashes := make(chan []byte, b.N)
	for range b.N {
		h := make([]byte, 32)
		rand.Read(h)
		if err := db.InsertEnrollToken(ctx, storage.EnrollToken{Hash: h, ClientID: "svc", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			b.Fatal(err)
		}
		hashes <- h
	}
	close(hashes)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := db.RedeemEnrollToken(ctx, <-hashes, now, func(_ storage.EnrollToken, c storage.Client) (storage.Certificate, error) {
				return certFor(c.ID, now), nil
			}); err != nil {
				b.Error(err)
			}
		}
	})
}

// BenchmarkCertificateRevoked: the status read of every authenticated
// request, served by the status cache.
func BenchmarkCertificateRevoked(b *testing.B) {
	db, err := postgres.Open(ctx, pgtest.URL(b), postgres.Options{Migrate: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	newClient(b, db, "svc")
	cert := enroll(b, db, "svc")
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if r, err := db.CertificateRevoked(ctx, cert.Serial); err != nil || r {
				b.Error(r, err)
			}
		}
	})
}
