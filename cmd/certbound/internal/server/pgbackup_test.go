package server_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certbound/certbound/cmd/certbound/internal/server/servertest"
	"github.com/certbound/certbound/storage/postgres/pgtest"
)

// TestPgDumpRestore is the backup and restore procedure the README gives
// for PostgreSQL (certbound backup refuses it): pg_dump --format=custom of
// a live database, pg_restore --no-owner into an empty database, and a
// server with the same CA password on the restored database serves the
// same CA, knows the certificates, clients and admin keys, and works.
func TestPgDumpRestore(t *testing.T) {
	dump, err := exec.LookPath("pg_dump")
	if err != nil {
		t.Skip("*** pg_dump not installed: the PostgreSQL backup procedure is not tested ***")
	}
	restore, err := exec.LookPath("pg_restore")
	if err != nil {
		t.Skip("*** pg_restore not installed: the PostgreSQL backup procedure is not tested ***")
	}
	from := pgtest.URL(t)
	a := servertest.Start(t, servertest.WithDatabase(from))
	a.CreateClient(t, "svc-bak", "x", "aud")
	cert, issued := a.Enroll(t, a.MintToken(t, "svc-bak"))

	file := filepath.Join(t.TempDir(), "certbound.dump")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, dump, "--format=custom", "--file", file, "--dbname", from).CombinedOutput(); err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, out)
	}
	to := pgtest.URL(t) // empty, as `createdb` would make it
	if out, err := exec.CommandContext(ctx, restore, "--no-owner", "--exit-on-error", "--dbname", to, file).CombinedOutput(); err != nil {
		t.Fatalf("pg_restore: %v\n%s", err, out)
	}
	if fi, err := os.Stat(file); err != nil || fi.Size() == 0 {
		t.Fatalf("dump file: %v", err)
	}

	a.Stop(t)
	b := servertest.Start(t, servertest.WithDatabase(to))
	if b.Fingerprint != a.Fingerprint {
		t.Fatalf("the restored database serves another CA: %s, was %s", b.Fingerprint, a.Fingerprint)
	}
	b.AdminKey = a.AdminKey // the admin keys came with the database
	r := b.Admin(t, "GET", "/v1/certificates?client_id=svc-bak", nil)
	if r.Status != 200 || !strings.Contains(string(r.Body), issued.Serial) {
		t.Fatalf("the certificate issued before the dump: %d %s", r.Status, r.Body)
	}
	tokenOK(t, b, b.HTTPClient(cert), "grant_type=client_credentials&client_id=svc-bak")
}
