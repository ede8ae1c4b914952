package main_test

import (
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certbound/certbound/certs"
	"github.com/certbound/certbound/storage/postgres/pgtest"
)

// passwordFile writes a private CA password file.
func passwordFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ca-password")
	if err := os.WriteFile(p, []byte("a CA password for the tests\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// readyStatus asks addr's /v1/ready. It checks readiness only, so it does
// not verify the server (whose root lives in the database).
func readyStatus(t *testing.T, addr string) int {
	t.Helper()
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} // readiness only: nothing is trusted from the answer
	resp, err := hc.Get("https://" + addr + "/v1/ready")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestMigrateThenServeWithMigrateFalse: `serve --migrate=false` on an empty
// database refuses, naming `certbound migrate`; `certbound migrate` brings
// the schema up and exits; then `serve --migrate=false` serves and is ready.
func TestMigrateThenServeWithMigrateFalse(t *testing.T) {
	url := pgtest.URL(t)
	pw := passwordFile(t)
	dir := t.TempDir()
	_, stderr, err := run(t, dir, nil, "", "serve", "--database", url, "--migrate=false", "--password-file", pw,
		"--data-dir", filepath.Join(dir, "data"), "--listen", "127.0.0.1:18443")
	if err == nil || !strings.Contains(stderr, "certbound migrate") {
		t.Fatalf("serve --migrate=false on an empty database: err=%v stderr=%q", err, stderr)
	}
	stdout, stderr, err := run(t, dir, nil, "", "migrate", "--database", url)
	if err != nil || !strings.Contains(stdout, "up to date") {
		t.Fatalf("migrate: err=%v stdout=%q stderr=%q", err, stdout, stderr)
	}
	if stdout, _, err := run(t, dir, nil, "", "migrate", "--database", url); err != nil || !strings.Contains(stdout, "up to date") {
		t.Fatalf("a second migrate: %v %q", err, stdout)
	}
	port := freePortNumber(t)
	serve(t, "--database", url, "--migrate=false", "--password-file", pw, "--data-dir", filepath.Join(dir, "data"),
		"--listen", "127.0.0.1:"+port)
	if got := readyStatus(t, "127.0.0.1:"+port); got != http.StatusOK {
		t.Fatalf("/v1/ready: %d", got)
	}
	// The fingerprint to pin comes from the database, where the CA is.
	fp, stderr, err := run(t, dir, nil, "", "ca", "fingerprint", "--database", url)
	if err != nil {
		t.Fatalf("ca fingerprint --database: %v %s", err, stderr)
	}
	if want := servedRootFingerprint(t, "127.0.0.1:"+port); strings.TrimSpace(fp) != want {
		t.Fatalf("ca fingerprint --database = %q, the server serves %s", fp, want)
	}
}

// servedRootFingerprint fetches GET /v1/roots (unverified: the test only
// compares it with what the CLI read from the database).
func servedRootFingerprint(t *testing.T, addr string) string {
	t.Helper()
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} // compared, not trusted
	resp, err := hc.Get("https://" + addr + "/v1/roots")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	pem, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	root, err := certs.ParseCertificate(pem)
	if err != nil {
		t.Fatal(err)
	}
	return certs.Fingerprint(root.Raw)
}

// TestServeOnPostgreSQLNeedsAPassword: the refusal says why and which flag.
func TestServeOnPostgreSQLNeedsAPassword(t *testing.T) {
	url := pgtest.URL(t)
	dir := t.TempDir()
	_, stderr, err := run(t, dir, nil, "", "serve", "--database", url, "--data-dir", filepath.Join(dir, "data"), "--listen", "127.0.0.1:18443")
	if err == nil || !strings.Contains(stderr, "--password-file") || !strings.Contains(stderr, "in the clear") {
		t.Fatalf("serve on PostgreSQL without a password: err=%v stderr=%q", err, stderr)
	}
	// The variable works as the flag does (SPEC §1).
	_, stderr, err = run(t, dir, []string{"CERTBOUND_DATABASE=" + url}, "", "serve", "--data-dir", filepath.Join(dir, "data"), "--listen", "127.0.0.1:18443")
	if err == nil || !strings.Contains(stderr, "--password-file") {
		t.Fatalf("CERTBOUND_DATABASE without a password: err=%v stderr=%q", err, stderr)
	}
}

func TestDatabaseFlagRefusesWhatItDoesNotKnow(t *testing.T) {
	dir := t.TempDir()
	for _, db := range []string{"sqlite:///tmp/x.db", "/var/lib/certbound/certbound.db", "mysql://u:hunter2@db/x"} {
		_, stderr, err := run(t, dir, nil, "", "serve", "--database", db, "--data-dir", filepath.Join(dir, "data"))
		if err == nil || !strings.Contains(stderr, "postgres://") {
			t.Errorf("--database %s: err=%v stderr=%q", db, err, stderr)
		}
		if strings.Contains(stderr, "hunter2") {
			t.Errorf("the refusal shows the password: %q", stderr)
		}
	}
}

func TestBackupOnPostgreSQLPointsAtPgDump(t *testing.T) {
	dir := t.TempDir()
	_, stderr, err := run(t, dir, nil, "", "backup", "--database", "postgres://certbound@db/certbound", filepath.Join(dir, "b.tar.gz"))
	if err == nil || !strings.Contains(stderr, "pg_dump") || !strings.Contains(stderr, "pg_restore") {
		t.Fatalf("backup on PostgreSQL: err=%v stderr=%q", err, stderr)
	}
	// A replica's data dir holds no SQLite database: same answer.
	empty := filepath.Join(dir, "replica")
	os.Mkdir(empty, 0o700)
	_, stderr, err = run(t, dir, nil, "", "backup", "--data-dir", empty, filepath.Join(dir, "c.tar.gz"))
	if err == nil || !strings.Contains(stderr, "pg_dump") {
		t.Fatalf("backup of a data dir without a database: err=%v stderr=%q", err, stderr)
	}
}

func TestMigrateOnSQLite(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if _, _, err := run(t, dir, nil, "", "migrate", "--data-dir", data); err == nil {
		t.Fatal("migrate of a data dir that does not exist succeeded")
	}
	os.Mkdir(data, 0o700)
	if stdout, stderr, err := run(t, dir, nil, "", "migrate", "--data-dir", data); err != nil || !strings.Contains(stdout, "up to date") {
		t.Fatalf("migrate on SQLite: %v %q %q", err, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(data, "certbound.db")); err != nil {
		t.Fatal(err)
	}
}
