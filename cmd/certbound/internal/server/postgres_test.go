package server_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certbound/certbound/ca"
	"github.com/certbound/certbound/cmd/certbound/internal/server"
	"github.com/certbound/certbound/cmd/certbound/internal/server/servertest"
	"github.com/certbound/certbound/storage"
	"github.com/certbound/certbound/storage/backend"
	"github.com/certbound/certbound/storage/postgres/pgtest"
	"github.com/certbound/certbound/tokenex/verify"
)

// openStore opens the database at url next to the servers, for checking
// what they stored; closed when the test ends.
func openStore(t *testing.T, url string) storage.Store {
	t.Helper()
	db, err := backend.Open(context.Background(), backend.Config{Database: url, PoolSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestPostgreSQLEnrollTokenVerify: a server on PostgreSQL does the whole
// round: a client enrolls, takes a token over mTLS, and a resource server
// verifies it with the server's JWKS.
func TestPostgreSQLEnrollTokenVerify(t *testing.T) {
	url := pgtest.URL(t)
	s := servertest.Start(t, servertest.WithDatabase(url))
	if s.AdminKey == "" {
		t.Fatal("the first server on an empty database made no bootstrap admin key file")
	}
	if _, err := os.Stat(filepath.Join(s.DataDir, server.CADir)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a server on PostgreSQL wrote a CA directory into its data dir (%v): the CA belongs in the database", err)
	}
	s.CreateClient(t, "svc-pg", "event.read", "event")
	cert, issued := s.Enroll(t, s.MintToken(t, "svc-pg"))
	tok, _ := tokenOK(t, s, s.HTTPClient(cert), "grant_type=client_credentials&client_id=svc-pg")
	ctx := context.Background()
	v, err := verify.New(ctx, verify.Config{Issuer: s.URL, Audience: "event", HTTPClient: s.HTTPClient()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(ctx, tok, cert.Leaf); err != nil {
		t.Fatalf("the token does not verify: %v", err)
	}
	// Recorded in PostgreSQL, with the CA's keys there encrypted.
	db := openStore(t, url)
	if _, err := db.GetCertificate(ctx, issued.Serial); err != nil {
		t.Fatalf("the issued certificate is not in the database: %v", err)
	}
	m, err := db.(storage.SharedCA).LoadCA(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !ca.KeyEncrypted(m.IntermediateKeyPEM) || !ca.KeyEncrypted(m.RootKeyPEM) {
		t.Fatal("the CA keys are stored in the clear")
	}
}

// TestReplicasShareOneCA: a second server on the same database, with a
// data dir of its own, serves the same CA (same root) and sees what the
// first wrote; each has its own TLS server certificate.
func TestReplicasShareOneCA(t *testing.T) {
	url := pgtest.URL(t)
	a := servertest.Start(t, servertest.WithDatabase(url))
	b := servertest.Start(t, servertest.WithDatabase(url))
	if a.Fingerprint != b.Fingerprint {
		t.Fatalf("two replicas, two roots: %s and %s", a.Fingerprint, b.Fingerprint)
	}
	if b.AdminKey != "" {
		t.Fatal("the second replica wrote a bootstrap admin key file: there must be one key for the database")
	}
	if !strings.Contains(b.Log(), "did not create the bootstrap admin key") {
		t.Errorf("the second replica's log does not say it did not create the admin key:\n%s", b.Log())
	}
	b.AdminKey = a.AdminKey // the database's one admin key works on every replica
	a.CreateClient(t, "svc-shared", "x", "aud")
	cert, _ := b.Enroll(t, b.MintToken(t, "svc-shared"))
	tokenOK(t, a, a.HTTPClient(cert), "grant_type=client_credentials&client_id=svc-shared")
	certA, certB := serverCert(t, a), serverCert(t, b)
	if certA.SerialNumber.Cmp(certB.SerialNumber) == 0 {
		t.Fatal("both replicas serve the same TLS certificate; each issues its own")
	}
}

// TestThreeReplicasStartingAtOnceMakeOneCA: three servers opened at the
// same moment on an empty database (each migrating) create one CA, one
// bootstrap admin key (one key file, in one data dir) and one signing key.
func TestThreeReplicasStartingAtOnceMakeOneCA(t *testing.T) {
	url := pgtest.URL(t)
	const n = 3
	var (
		wg      sync.WaitGroup
		servers [n]*server.Server
		errs    [n]error
		dirs    [n]string
		logs    [n]*strings.Builder
		logMu   sync.Mutex
	)
	start := make(chan struct{})
	for i := range n {
		dirs[i] = filepath.Join(t.TempDir(), "data")
		logs[i] = &strings.Builder{}
		wg.Go(func() {
			<-start
			servers[i], errs[i] = server.Open(context.Background(), server.Config{
				DataDir: dirs[i], Database: url, DatabasePoolSize: 2, CAPassword: []byte("three at once"),
				Issuer: "https://localhost:8443", Logger: slog.New(slog.NewTextHandler(lockedWriter{&logMu, logs[i]}, nil)),
			})
		})
	}
	close(start)
	wg.Wait()
	for i, s := range servers {
		if errs[i] != nil {
			t.Fatalf("replica %d: %v", i, errs[i])
		}
		t.Cleanup(func() { s.Close() })
	}
	created, keyFiles := 0, 0
	for i, s := range servers {
		if s.Authority().RootFingerprint() != servers[0].Authority().RootFingerprint() {
			t.Fatalf("replica %d has another root", i)
		}
		logMu.Lock()
		if strings.Contains(logs[i].String(), "created a new CA") {
			created++
		}
		logMu.Unlock()
		if _, err := os.Stat(filepath.Join(dirs[i], server.AdminKeyFile)); err == nil {
			keyFiles++
		}
	}
	db := openStore(t, url)
	keys, err := db.AdminKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	signing, err := db.SigningKeys(context.Background(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if created != 1 || len(keys) != 1 || keyFiles != 1 || len(signing) != 1 {
		t.Fatalf("%d replicas say they created the CA, %d admin keys stored, %d key files, %d signing keys; want 1 each",
			created, len(keys), keyFiles, len(signing))
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestPostgreSQLPassword: no CA password on PostgreSQL is refused before
// anything is created (the keys would be stored in the clear), and a wrong
// one names the flag.
func TestPostgreSQLPassword(t *testing.T) {
	url := pgtest.URL(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := server.Config{DataDir: filepath.Join(t.TempDir(), "data"), Database: url, DatabasePoolSize: 2,
		Issuer: "https://localhost:8443", Logger: quiet}
	t.Run("reject/no-password", func(t *testing.T) {
		_, err := server.Open(context.Background(), cfg)
		if !errors.Is(err, server.ErrNoPassword) || !strings.Contains(err.Error(), "--password-file") || !strings.Contains(err.Error(), "in the clear") {
			t.Fatalf("Open without a password: %v", err)
		}
		if _, err := os.Stat(cfg.DataDir); !errors.Is(err, os.ErrNotExist) {
			t.Error("the refused start created the data dir")
		}
	})
	good := cfg
	good.CAPassword = []byte("the right one")
	s, err := server.Open(context.Background(), good)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	t.Run("reject/wrong-password", func(t *testing.T) {
		wrong := cfg
		wrong.DataDir = filepath.Join(t.TempDir(), "other")
		wrong.CAPassword = []byte("not the right one")
		_, err := server.Open(context.Background(), wrong)
		if !errors.Is(err, ca.ErrPassword) || !strings.Contains(err.Error(), "--password-file") {
			t.Fatalf("Open with a wrong password: %v", err)
		}
		if strings.Contains(err.Error(), "not the right one") {
			t.Fatal("the error quotes the password")
		}
	})
}

// TestMigrateThenServeWithoutMigrating: serve --migrate=false on an empty
// database is refused, naming `certbound migrate`; after it, it starts.
func TestMigrateThenServeWithoutMigrating(t *testing.T) {
	url := pgtest.URL(t)
	cfg := server.Config{DataDir: filepath.Join(t.TempDir(), "data"), Database: url, DatabasePoolSize: 2, SkipMigrations: true,
		CAPassword: []byte("pw"), Issuer: "https://localhost:8443", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	_, err := server.Open(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "certbound migrate") {
		t.Fatalf("--migrate=false on an empty database: %v; want a refusal naming `certbound migrate`", err)
	}
	if err := backend.Migrate(context.Background(), backend.Config{Database: url}); err != nil {
		t.Fatal(err)
	}
	s, err := server.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("--migrate=false after certbound migrate: %v", err)
	}
	s.Close()
}

// serverCert returns the TLS certificate s presents.
func serverCert(t *testing.T, s *servertest.Server) *x509.Certificate {
	t.Helper()
	conn, err := tls.Dial("tcp", strings.TrimPrefix(s.URL, "https://"), &tls.Config{RootCAs: s.Roots, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0]
}
