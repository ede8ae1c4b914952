package ca

import (
	"context"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.step.sm/crypto/keyutil"

	"github.com/certbound/certbound/certs"
)

type allGood struct{}

func (allGood) CertificateRevoked(context.Context, string) (bool, error) { return false, nil }
func (allGood) ClientDisabled(context.Context, string) (bool, error)     { return false, nil }

// writeCA writes a root (changed by constrain before it is signed) and an
// intermediate into a new CA directory and returns it.
func writeCA(t *testing.T, constrain func(*x509.Certificate)) string {
	t.Helper()
	now := time.Now()
	rootKey, err := keyutil.GenerateSigner("EC", "P-256", 0)
	if err != nil {
		t.Fatal(err)
	}
	intKey, err := keyutil.GenerateSigner("EC", "P-256", 0)
	if err != nil {
		t.Fatal(err)
	}
	rootTmpl, err := caTemplate("Test Root CA", now, 1)
	if err != nil {
		t.Fatal(err)
	}
	constrain(rootTmpl)
	root, err := sign(rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	if err != nil {
		t.Fatal(err)
	}
	intTmpl, err := caTemplate("Test Intermediate CA", now, 0)
	if err != nil {
		t.Fatal(err)
	}
	intermediate, err := sign(intTmpl, root, intKey.Public(), rootKey)
	if err != nil {
		t.Fatal(err)
	}
	intKeyPEM, err := encodeKey(intKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, f := range map[string]struct {
		data []byte
		mode os.FileMode
	}{
		RootCertFile:         {certs.EncodeCertificates(root), certMode},
		IntermediateCertFile: {certs.EncodeCertificates(intermediate), certMode},
		IntermediateKeyFile:  {intKeyPEM, keyMode},
	} {
		if err := certs.WriteFileAtomic(filepath.Join(dir, name), f.data, f.mode); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// A root that constrains the names below it must still be applied to every
// leaf: VerifyClient then verifies to the root, not to the intermediate.
func TestARootsConstraintsApplyToLeaves(t *testing.T) {
	for _, tt := range []struct {
		name      string
		constrain func(*x509.Certificate)
		wantErr   error
	}{
		{"plain-root", func(*x509.Certificate) {}, nil},
		{"root-excludes-the-trust-domain", func(r *x509.Certificate) { r.ExcludedURIDomains = []string{certs.DefaultTrustDomain} }, ErrUntrusted},
		{"root-permits-another-domain", func(r *x509.Certificate) { r.PermittedURIDomains = []string{"example.org"} }, ErrUntrusted},
		{"root-serverauth-only", func(r *x509.Certificate) { r.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth} }, ErrUntrusted},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, err := New(Config{Dir: writeCA(t, tt.constrain), Status: allGood{}})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := rootConstrainsChain(a.root), tt.wantErr != nil; got != want {
				t.Fatalf("rootConstrainsChain = %v, want %v", got, want)
			}
			key, err := keyutil.GenerateSigner("EC", "P-256", 0)
			if err != nil {
				t.Fatal(err)
			}
			leaf, err := a.IssueLeaf(LeafRequest{ClientID: "svc-a", PublicKey: key.Public(), Lifetime: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := a.VerifyClient(t.Context(), []*x509.Certificate{leaf}); !errors.Is(err, tt.wantErr) {
				t.Fatalf("VerifyClient: %v, want %v", err, tt.wantErr)
			}
		})
	}
}
