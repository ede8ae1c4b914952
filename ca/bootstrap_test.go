package ca_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/certbound/certbound/ca"
	"github.com/certbound/certbound/certs"
)

func TestBootstrapFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	if ca.Exists(dir) {
		t.Fatal("Exists(empty) = true")
	}
	if err := ca.Bootstrap(dir, ca.BootstrapOptions{}); err != nil {
		t.Fatal(err)
	}
	if !ca.Exists(dir) {
		t.Fatal("Exists after Bootstrap = false")
	}
	want := map[string]os.FileMode{
		".":                     0o700,
		ca.RootCertFile:         0o644,
		ca.RootKeyFile:          0o600,
		ca.IntermediateCertFile: 0o644,
		ca.IntermediateKeyFile:  0o600,
	}
	for name, mode := range want {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != mode {
			t.Errorf("%s: mode %04o, want %04o", name, got, mode)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 4 {
		t.Errorf("CA dir holds %d entries, want the 4 CA files (no temporary files left)", len(entries))
	}
	key, err := os.ReadFile(filepath.Join(dir, ca.IntermediateKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(key, []byte("-----BEGIN PRIVATE KEY-----")) {
		t.Errorf("unencrypted key should be a plain PKCS #8 block, starts %q", key[:min(len(key), 30)])
	}
}

func TestBootstrapRefusesExistingCA(t *testing.T) {
	for _, file := range []string{ca.RootCertFile, ca.RootKeyFile, ca.IntermediateCertFile, ca.IntermediateKeyFile} {
		t.Run("reject/"+file, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, file)
			if err := os.WriteFile(p, []byte("keep me"), 0o600); err != nil {
				t.Fatal(err)
			}
			if !ca.Exists(dir) {
				t.Fatalf("Exists with only %s = false", file)
			}
			if err := ca.Bootstrap(dir, ca.BootstrapOptions{}); !errors.Is(err, ca.ErrExists) {
				t.Fatalf("Bootstrap error = %v, want ErrExists", err)
			}
			got, _ := os.ReadFile(p)
			if string(got) != "keep me" {
				t.Fatalf("Bootstrap overwrote %s", file)
			}
		})
	}
	t.Run("reject/second-bootstrap", func(t *testing.T) {
		dir := t.TempDir()
		if err := ca.Bootstrap(dir, ca.BootstrapOptions{}); err != nil {
			t.Fatal(err)
		}
		before, _ := os.ReadFile(filepath.Join(dir, ca.RootCertFile))
		if err := ca.Bootstrap(dir, ca.BootstrapOptions{}); !errors.Is(err, ca.ErrExists) {
			t.Fatalf("second Bootstrap error = %v, want ErrExists", err)
		}
		after, _ := os.ReadFile(filepath.Join(dir, ca.RootCertFile))
		if !bytes.Equal(before, after) {
			t.Fatal("second Bootstrap replaced the root")
		}
	})
}

// TestBootstrapProfile checks the CA certificates against SPEC §2 and the
// checklist §0.8: P-256, ten years, cA, path lengths, key usage, SKI/AKI.
func TestBootstrapProfile(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := ca.Bootstrap(dir, ca.BootstrapOptions{Name: "acme", Now: func() time.Time { return now }}); err != nil {
		t.Fatal(err)
	}
	root := readCert(t, filepath.Join(dir, ca.RootCertFile))
	inter := readCert(t, filepath.Join(dir, ca.IntermediateCertFile))

	tests := []struct {
		name       string
		c          *x509.Certificate
		cn         string
		maxPathLen int
	}{
		{"root", root, "acme Root CA", 1},
		{"intermediate", inter, "acme Intermediate CA", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.c
			if c.Subject.CommonName != tt.cn {
				t.Errorf("CN = %q, want %q", c.Subject.CommonName, tt.cn)
			}
			k, ok := c.PublicKey.(*ecdsa.PublicKey)
			if !ok || k.Curve != elliptic.P256() {
				t.Errorf("key %T, want ECDSA P-256", c.PublicKey)
			}
			if !c.BasicConstraintsValid || !c.IsCA {
				t.Error("not cA=TRUE")
			}
			if c.MaxPathLen != tt.maxPathLen || (tt.maxPathLen == 0 && !c.MaxPathLenZero) {
				t.Errorf("pathlen = %d (zero=%v), want %d", c.MaxPathLen, c.MaxPathLenZero, tt.maxPathLen)
			}
			if c.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign {
				t.Errorf("KeyUsage = %b, want keyCertSign|cRLSign", c.KeyUsage)
			}
			if len(c.ExtKeyUsage) != 0 {
				t.Errorf("CA has EKU %v; it would constrain every leaf", c.ExtKeyUsage)
			}
			if len(c.SubjectKeyId) == 0 {
				t.Error("no SKI")
			}
			if !c.NotBefore.Equal(now.Add(-time.Minute)) {
				t.Errorf("NotBefore = %v", c.NotBefore)
			}
			if got := c.NotAfter.Sub(now); got < 10*365*24*time.Hour || got > 10*366*24*time.Hour {
				t.Errorf("lifetime %v, want 10 years", got)
			}
			assertCritical(t, c, oidBasicConstraints, true)
			assertCritical(t, c, oidKeyUsage, true)
		})
	}
	if err := root.CheckSignatureFrom(root); err != nil {
		t.Errorf("root not self-signed: %v", err)
	}
	if err := inter.CheckSignatureFrom(root); err != nil {
		t.Errorf("intermediate not signed by root: %v", err)
	}
	if !bytes.Equal(inter.AuthorityKeyId, root.SubjectKeyId) {
		t.Error("intermediate AKI != root SKI")
	}
	if !bytes.Equal(inter.RawIssuer, root.RawSubject) {
		t.Error("intermediate issuer != root subject")
	}
}

func readCert(t testing.TB, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := certs.ParseCertificate(data)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
