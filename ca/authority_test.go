package ca_test

import (
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certbound/certbound/ca"
	"github.com/certbound/certbound/ca/catest"
	"github.com/certbound/certbound/certs"
)

func bootstrap(t testing.TB, opts ca.BootstrapOptions) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ca")
	if err := ca.Bootstrap(dir, opts); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestNewAccessors(t *testing.T) {
	c := catest.New(t)
	a := c.Authority
	if a.TrustDomain() != catest.TrustDomain {
		t.Errorf("TrustDomain = %q", a.TrustDomain())
	}
	root := readCert(t, filepath.Join(c.Dir, ca.RootCertFile))
	if !a.Root().Equal(root) {
		t.Error("Root() is not root.crt")
	}
	if !a.Intermediate().Equal(readCert(t, filepath.Join(c.Dir, ca.IntermediateCertFile))) {
		t.Error("Intermediate() is not intermediate.crt")
	}
	if got, want := a.RootFingerprint(), certs.Fingerprint(root.Raw); got != want || len(got) != 64 {
		t.Errorf("RootFingerprint = %q, want %q", got, want)
	}
	parsed, err := certs.ParseCertificate(a.RootPEM())
	if err != nil || !parsed.Equal(root) {
		t.Errorf("RootPEM does not parse to the root: %v", err)
	}
	a.RootPEM()[0] = 'X' // a copy: must not change the next call
	if _, err := certs.ParseCertificate(a.RootPEM()); err != nil {
		t.Error("RootPEM returned its internal buffer")
	}
}

func TestNewDefaultTrustDomain(t *testing.T) {
	a, err := ca.New(ca.Config{Dir: bootstrap(t, ca.BootstrapOptions{}), Status: &catest.Status{}})
	if err != nil {
		t.Fatal(err)
	}
	if a.TrustDomain() != certs.DefaultTrustDomain {
		t.Fatalf("TrustDomain = %q, want %q", a.TrustDomain(), certs.DefaultTrustDomain)
	}
}

// TestNewWithoutRootKey: the root key can go offline after bootstrap (SPEC §2),
// and the CA keeps issuing and verifying.
func TestNewWithoutRootKey(t *testing.T) {
	dir := bootstrap(t, ca.BootstrapOptions{})
	if err := os.Remove(filepath.Join(dir, ca.RootKeyFile)); err != nil {
		t.Fatal(err)
	}
	status := &catest.Status{}
	a, err := ca.New(ca.Config{Dir: dir, Status: status})
	if err != nil {
		t.Fatalf("New without root.key: %v", err)
	}
	key := newP256(t)
	leaf, err := a.IssueLeaf(ca.LeafRequest{ClientID: "svc-a", PublicKey: key.Public(), Lifetime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	status.Record(certs.SerialString(leaf.SerialNumber))
	peer, err := a.VerifyClient(t.Context(), []*x509.Certificate{leaf, a.Intermediate()})
	if err != nil {
		t.Fatalf("VerifyClient: %v", err)
	}
	if peer.ClientID() != "svc-a" {
		t.Fatalf("ClientID = %q", peer.ClientID())
	}
}

// TestNewNeverReadsRootKey: an unreadable root.key does not matter.
func TestNewNeverReadsRootKey(t *testing.T) {
	dir := bootstrap(t, ca.BootstrapOptions{})
	p := filepath.Join(dir, ca.RootKeyFile)
	if err := os.WriteFile(p, []byte("not a key"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ca.New(ca.Config{Dir: dir, Status: &catest.Status{}}); err != nil {
		t.Fatalf("New looked at root.key: %v", err)
	}
}

func TestNewRejects(t *testing.T) {
	other := bootstrap(t, ca.BootstrapOptions{})
	tests := []struct {
		name    string
		breakIt func(t *testing.T, dir string, cfg *ca.Config)
		wantErr error // nil: any error
	}{
		{"reject/intermediate-key-0644", func(t *testing.T, dir string, _ *ca.Config) {
			chmod(t, filepath.Join(dir, ca.IntermediateKeyFile), 0o644)
		}, nil},
		{"reject/intermediate-key-0640", func(t *testing.T, dir string, _ *ca.Config) {
			chmod(t, filepath.Join(dir, ca.IntermediateKeyFile), 0o640)
		}, nil},
		{"reject/no-status-source", func(_ *testing.T, _ string, cfg *ca.Config) { cfg.Status = nil }, nil},
		{"reject/bad-trust-domain", func(_ *testing.T, _ string, cfg *ca.Config) { cfg.TrustDomain = "Example.COM:8443" }, certs.ErrInvalidID},
		{"reject/missing-intermediate", func(t *testing.T, dir string, _ *ca.Config) {
			rm(t, filepath.Join(dir, ca.IntermediateCertFile))
		}, os.ErrNotExist},
		{"reject/missing-intermediate-key", func(t *testing.T, dir string, _ *ca.Config) {
			rm(t, filepath.Join(dir, ca.IntermediateKeyFile))
		}, os.ErrNotExist},
		{"reject/intermediate-from-another-ca", func(t *testing.T, dir string, _ *ca.Config) {
			copyFile(t, filepath.Join(other, ca.IntermediateCertFile), filepath.Join(dir, ca.IntermediateCertFile), 0o644)
		}, ca.ErrInconsistent},
		{"reject/key-does-not-match", func(t *testing.T, dir string, _ *ca.Config) {
			copyFile(t, filepath.Join(other, ca.IntermediateKeyFile), filepath.Join(dir, ca.IntermediateKeyFile), 0o600)
		}, ca.ErrInconsistent},
		{"reject/root-as-intermediate", func(t *testing.T, dir string, _ *ca.Config) {
			copyFile(t, filepath.Join(dir, ca.RootCertFile), filepath.Join(dir, ca.IntermediateCertFile), 0o644)
			copyFile(t, filepath.Join(dir, ca.RootKeyFile), filepath.Join(dir, ca.IntermediateKeyFile), 0o600)
		}, ca.ErrInconsistent},
		{"reject/garbage-key", func(t *testing.T, dir string, _ *ca.Config) {
			writeFile(t, filepath.Join(dir, ca.IntermediateKeyFile), "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", 0o600)
		}, ca.ErrInconsistent},
		{"reject/two-certificates", func(t *testing.T, dir string, _ *ca.Config) {
			root, _ := os.ReadFile(filepath.Join(dir, ca.RootCertFile))
			inter, _ := os.ReadFile(filepath.Join(dir, ca.IntermediateCertFile))
			writeFile(t, filepath.Join(dir, ca.IntermediateCertFile), string(inter)+string(root), 0o644)
		}, ca.ErrInconsistent},
		{"reject/expired-ca", func(_ *testing.T, _ string, cfg *ca.Config) {
			cfg.Now = func() time.Time { return time.Now().Add(11 * 365 * 24 * time.Hour) }
		}, ca.ErrInconsistent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := bootstrap(t, ca.BootstrapOptions{})
			cfg := ca.Config{Dir: dir, Status: &catest.Status{}}
			tt.breakIt(t, dir, &cfg)
			a, err := ca.New(cfg)
			if err == nil {
				t.Fatalf("New succeeded (%v)", a != nil)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("New error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestEncryptedIntermediateKey(t *testing.T) {
	password := []byte("correct horse battery staple")
	dir := bootstrap(t, ca.BootstrapOptions{Password: password})
	for _, f := range []string{ca.RootKeyFile, ca.IntermediateKeyFile} {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(data), "-----BEGIN ENCRYPTED PRIVATE KEY-----") {
			t.Fatalf("%s is not an encrypted PKCS #8 key", f)
		}
	}
	tests := []struct {
		name     string
		password []byte
		wantErr  error
	}{
		{"accept/right-password", password, nil},
		{"reject/wrong-password", []byte("Tr0ub4dor&3"), ca.ErrPassword},
		{"reject/no-password", nil, ca.ErrPassword},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ca.New(ca.Config{Dir: dir, Password: tt.password, Status: &catest.Status{}})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("New error = %v, want %v", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), string(password)) {
				t.Fatal("error message quotes the password")
			}
		})
	}
}

func chmod(t *testing.T, p string, m os.FileMode) {
	t.Helper()
	if err := os.Chmod(p, m); err != nil {
		t.Fatal(err)
	}
}

func rm(t *testing.T, p string) {
	t.Helper()
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string, m os.FileMode) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, to, string(data), m)
}

func writeFile(t *testing.T, p, data string, m os.FileMode) {
	t.Helper()
	if err := os.WriteFile(p, []byte(data), m); err != nil {
		t.Fatal(err)
	}
	chmod(t, p, m)
}
