package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log"
	"time"

	"github.com/certbound/certbound/storage"
	"github.com/certbound/certbound/storage/sqlite"
)

// seed writes clients and certificate rows straight into the database file
// of a stopped server, through (*sqlite.DB).ImportClients and
// ImportCertificates (one transaction per 50,000 rows, one prepared
// statement). The clients are tls_client_auth clients like the ones the API
// registers; the certificates are records with random serials and
// fingerprints, ten per client, 1 % of them revoked and most superseded, as a
// long-running installation accumulates them. No certificate is signed: the
// rows only have to exist for the indexes to hold them.
func seed(ctx context.Context, path string, clients, certificates int) error {
	t0 := time.Now()
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		return err
	}
	defer db.Close()
	now := time.Now().UTC().Truncate(time.Second)
	const batch = 50_000
	id := func(i int) string { return fmt.Sprintf("seed-%07d", i) }
	for lo := 0; lo < clients; lo += batch {
		cs := make([]storage.Client, 0, batch)
		for i := lo; i < min(lo+batch, clients); i++ {
			cs = append(cs, storage.Client{
				ID: id(i), Scopes: []string{"bench.read"}, Audiences: []string{"bench"},
				GrantTypes: []string{"client_credentials"}, AuthMethod: "tls_client_auth",
				SANURI: "spiffe://certbound.local/" + id(i), CreatedAt: now, UpdatedAt: now,
			})
		}
		if err := db.ImportClients(ctx, cs); err != nil {
			return err
		}
	}
	log.Printf("seeded %d clients in %v", clients, time.Since(t0).Round(time.Millisecond))
	var raw [16]byte
	for lo := 0; lo < certificates; lo += batch {
		cs := make([]storage.Certificate, 0, batch)
		for i := lo; i < min(lo+batch, certificates); i++ {
			_, _ = rand.Read(raw[:])
			raw[0] &= 0x7f
			serial := hex.EncodeToString(raw[:])
			fp := sha256.Sum256(raw[:])
			nb := now.Add(-time.Duration(certificates-i) * time.Second)
			c := storage.Certificate{
				Serial: serial, ClientID: id(i % max(clients, 1)), Fingerprint: hex.EncodeToString(fp[:]),
				NotBefore: nb, NotAfter: nb.Add(24 * time.Hour), CreatedAt: nb,
			}
			switch {
			case i%100 == 0:
				c.RevokedAt, c.RevocationReason = nb.Add(time.Hour), "bench"
			case i%10 != 9:
				c.SupersededBy = "00" // lineage is not followed by the loads
			}
			cs = append(cs, c)
		}
		if err := db.ImportCertificates(ctx, cs); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	log.Printf("seeded %d certificates in %v", certificates, time.Since(t0).Round(time.Millisecond))
	return nil
}
