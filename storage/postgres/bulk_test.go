package postgres_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/certbound/certbound/storage"
)

func TestImport(t *testing.T) {
	t.Parallel()
	db := openFresh(t)
	now := db.Now().UTC().Truncate(time.Second)
	var cs []storage.Client
	for i := range 100 {
		cs = append(cs, storage.Client{ID: fmt.Sprintf("c%03d", i), AuthMethod: "tls_client_auth", Scopes: []string{"a"},
			Audiences: []string{"x"}, CreatedAt: now, UpdatedAt: now, Generation: []byte{byte(i)}})
	}
	if err := db.ImportClients(ctx, cs); err != nil {
		t.Fatal(err)
	}
	if n, _ := db.CountClients(ctx); n != 100 {
		t.Errorf("accept/%d clients after the import, want 100", n)
	}
	if err := db.ImportClients(ctx, []storage.Client{{ID: "new", AuthMethod: "x"}, cs[5]}); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("reject/an import with an existing id = %v, want ErrConflict", err)
	}
	if _, err := db.GetClient(ctx, "new"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("reject/the failed import left a record behind: %v", err)
	}
	old := certFor("c001", now)
	renewed := certFor("c001", now)
	old.SupersededBy, renewed.RenewedFrom = renewed.Serial, old.Serial
	revoked := certFor("c002", now)
	revoked.RevokedAt, revoked.RevocationReason = now, "keyCompromise"
	if err := db.ImportCertificates(ctx, []storage.Certificate{old, renewed, revoked}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []storage.Certificate{old, renewed, revoked} {
		got, err := db.GetCertificate(ctx, want.Serial)
		if err != nil || got != want {
			t.Errorf("accept/imported %s: got %+v, %v; want %+v", want.Serial, got, err, want)
		}
	}
	if r, _ := db.CertificateRevoked(ctx, revoked.Serial); !r {
		t.Error("accept/an imported revocation is not seen")
	}
}
