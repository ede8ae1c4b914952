package ca_test

import (
	"bytes"
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

// TestNewMaterialIsBootstrapsCA: the CA made in memory is the one Bootstrap
// writes — same profile, keys encrypted with the password — and New loads
// it from the bytes exactly as from the directory.
func TestNewMaterialIsBootstrapsCA(t *testing.T) {
	password := []byte("correct horse battery staple")
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	m, err := ca.NewMaterial(ca.BootstrapOptions{Name: "acme", Password: password, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	for name, key := range map[string][]byte{"root": m.RootKeyPEM, "intermediate": m.IntermediateKeyPEM} {
		if !bytes.HasPrefix(key, []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----")) || !ca.KeyEncrypted(key) {
			t.Errorf("%s key is not an encrypted PKCS #8 key", name)
		}
	}
	root, err := certs.ParseCertificate(m.RootCertPEM)
	if err != nil {
		t.Fatal(err)
	}
	inter, err := certs.ParseCertificate(m.IntermediateCertPEM)
	if err != nil {
		t.Fatal(err)
	}
	if root.Subject.CommonName != "acme Root CA" || inter.Subject.CommonName != "acme Intermediate CA" {
		t.Errorf("CNs %q, %q", root.Subject.CommonName, inter.Subject.CommonName)
	}
	if err := inter.CheckSignatureFrom(root); err != nil {
		t.Errorf("intermediate not signed by the root: %v", err)
	}
	a, err := ca.New(ca.Config{Material: &m, Password: password, Status: &catest.Status{}, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if a.RootFingerprint() != certs.Fingerprint(root.Raw) {
		t.Error("the Authority's root is not the material's")
	}
	if _, err := a.IssueServer([]string{"localhost"}, time.Hour); err != nil {
		t.Errorf("IssueServer from material: %v", err)
	}
}

func TestNewMaterialUnencrypted(t *testing.T) {
	m, err := ca.NewMaterial(ca.BootstrapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ca.KeyEncrypted(m.IntermediateKeyPEM) || !bytes.HasPrefix(m.IntermediateKeyPEM, []byte("-----BEGIN PRIVATE KEY-----")) {
		t.Error("without a password the key should be plain PKCS #8")
	}
	if _, err := ca.New(ca.Config{Material: &m, Status: &catest.Status{}}); err != nil {
		t.Fatal(err)
	}
}

// TestNewFromMaterial: the checks New makes of files hold for bytes too.
func TestNewFromMaterial(t *testing.T) {
	password := []byte("correct horse battery staple")
	good, err := ca.NewMaterial(ca.BootstrapOptions{Password: password})
	if err != nil {
		t.Fatal(err)
	}
	other, err := ca.NewMaterial(ca.BootstrapOptions{Password: password})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		change   func(m *ca.Material)
		password []byte
		wantErr  error
	}{
		{"accept/right-password", func(*ca.Material) {}, password, nil},
		{"accept/root-key-absent", func(m *ca.Material) { m.RootKeyPEM = nil }, password, nil},
		{"reject/wrong-password", func(*ca.Material) {}, []byte("Tr0ub4dor&3"), ca.ErrPassword},
		{"reject/no-password", func(*ca.Material) {}, nil, ca.ErrPassword},
		{"reject/key-of-another-ca", func(m *ca.Material) { m.IntermediateKeyPEM = other.IntermediateKeyPEM }, password, ca.ErrInconsistent},
		{"reject/intermediate-of-another-root", func(m *ca.Material) { m.IntermediateCertPEM = other.IntermediateCertPEM }, password, ca.ErrInconsistent},
		{"reject/root-missing", func(m *ca.Material) { m.RootCertPEM = nil }, password, ca.ErrInconsistent},
		{"reject/key-garbage", func(m *ca.Material) { m.IntermediateKeyPEM = []byte("not a key") }, password, ca.ErrInconsistent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := good
			tt.change(&m)
			_, err := ca.New(ca.Config{Material: &m, Password: tt.password, Status: &catest.Status{}})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("New error = %v, want %v", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), string(password)) {
				t.Fatal("error message quotes the password")
			}
		})
	}
}

// TestBootstrapWritesMaterial: Bootstrap's files are NewMaterial's bytes, so
// a directory CA and a CA loaded from material are the same thing.
func TestBootstrapWritesMaterial(t *testing.T) {
	dir := bootstrap(t, ca.BootstrapOptions{Password: []byte("pw")})
	var m ca.Material
	for name, dst := range map[string]*[]byte{ca.RootCertFile: &m.RootCertPEM, ca.RootKeyFile: &m.RootKeyPEM,
		ca.IntermediateCertFile: &m.IntermediateCertPEM, ca.IntermediateKeyFile: &m.IntermediateKeyPEM} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		*dst = data
	}
	fromDir, err := ca.New(ca.Config{Dir: dir, Password: []byte("pw"), Status: &catest.Status{}})
	if err != nil {
		t.Fatal(err)
	}
	fromBytes, err := ca.New(ca.Config{Material: &m, Password: []byte("pw"), Status: &catest.Status{}})
	if err != nil {
		t.Fatal(err)
	}
	if fromDir.RootFingerprint() != fromBytes.RootFingerprint() {
		t.Fatal("the same CA loaded two ways has two roots")
	}
}
