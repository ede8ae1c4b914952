package ca_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"go.step.sm/crypto/pemutil"

	"github.com/certbound/certbound/ca"
	"github.com/certbound/certbound/ca/catest"
	"github.com/certbound/certbound/certs"
)

var (
	oidSubjectKeyID     = asn1.ObjectIdentifier{2, 5, 29, 14}
	oidKeyUsage         = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidSubjectAltName   = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}
	oidAuthorityKeyID   = asn1.ObjectIdentifier{2, 5, 29, 35}
	oidExtKeyUsage      = asn1.ObjectIdentifier{2, 5, 29, 37}
)

// leafExtensions is every extension a leaf may carry, with its criticality.
var leafExtensions = map[string]bool{
	oidSubjectKeyID.String():     false,
	oidKeyUsage.String():         true,
	oidSubjectAltName.String():   false,
	oidBasicConstraints.String(): true,
	oidAuthorityKeyID.String():   false,
	oidExtKeyUsage.String():      false,
}

func assertCritical(t *testing.T, c *x509.Certificate, oid asn1.ObjectIdentifier, want bool) {
	t.Helper()
	for _, e := range c.Extensions {
		if e.Id.Equal(oid) {
			if e.Critical != want {
				t.Errorf("extension %v critical = %v, want %v", oid, e.Critical, want)
			}
			return
		}
	}
	t.Errorf("extension %v missing", oid)
}

// assertLeafExtensions: exactly the profile's extensions, with the profile's
// criticality, and nothing else.
func assertLeafExtensions(t *testing.T, leaf *x509.Certificate) {
	t.Helper()
	seen := map[string]bool{}
	for _, e := range leaf.Extensions {
		crit, ok := leafExtensions[e.Id.String()]
		switch {
		case !ok:
			t.Errorf("unexpected extension %v", e.Id)
		case crit != e.Critical:
			t.Errorf("extension %v critical = %v, want %v", e.Id, e.Critical, crit)
		}
		seen[e.Id.String()] = true
	}
	for oid := range leafExtensions {
		if !seen[oid] {
			t.Errorf("extension %s missing", oid)
		}
	}
}

func newP256(t testing.TB) crypto.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func fixedClock() (time.Time, func() time.Time) {
	now := time.Now().UTC().Truncate(time.Second) // certificates keep whole seconds
	return now, func() time.Time { return now }
}

// TestLeafProfile checks every SPEC §2 field of an issued leaf (checklist §0.8,
// §13.2, §14).
func TestLeafProfile(t *testing.T) {
	now, clock := fixedClock()
	c := catest.New(t, catest.WithNow(clock))
	key := newP256(t)
	leaf, err := c.Authority.IssueLeaf(ca.LeafRequest{
		ClientID:  "svc-a",
		PublicKey: key.Public(),
		DNSNames:  []string{"svc-a.internal", "svc-a.example.com"},
		Lifetime:  24 * time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	inter := c.Authority.Intermediate()

	if len(leaf.Raw) == 0 {
		t.Fatal("Raw not set")
	}
	if leaf.Version != 3 {
		t.Errorf("Version = %d, want 3", leaf.Version)
	}
	if len(leaf.URIs) != 1 || leaf.URIs[0].String() != "spiffe://certbound.local/svc-a" {
		t.Errorf("URIs = %v, want exactly spiffe://certbound.local/svc-a", leaf.URIs)
	}
	if !slices.Equal(leaf.DNSNames, []string{"svc-a.internal", "svc-a.example.com"}) {
		t.Errorf("DNSNames = %v", leaf.DNSNames)
	}
	if len(leaf.IPAddresses)+len(leaf.EmailAddresses) != 0 {
		t.Errorf("unexpected SANs: %v %v", leaf.IPAddresses, leaf.EmailAddresses)
	}
	if got := leaf.Subject.String(); got != "CN=svc-a" {
		t.Errorf("Subject = %q, want CN=svc-a", got)
	}
	if !bytes.Equal(leaf.RawIssuer, inter.RawSubject) {
		t.Error("issuer != intermediate subject")
	}
	if !leaf.BasicConstraintsValid || leaf.IsCA {
		t.Error("want basicConstraints cA=FALSE")
	}
	if leaf.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("KeyUsage = %b, want digitalSignature only", leaf.KeyUsage)
	}
	if !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}) ||
		len(leaf.UnknownExtKeyUsage) != 0 {
		t.Errorf("ExtKeyUsage = %v %v, want serverAuth+clientAuth", leaf.ExtKeyUsage, leaf.UnknownExtKeyUsage)
	}
	if leaf.SerialNumber.Sign() <= 0 || leaf.SerialNumber.BitLen() > 128 || leaf.SerialNumber.BitLen() < 64 {
		t.Errorf("serial %v: want positive, 64 to 128 bits", leaf.SerialNumber)
	}
	if !leaf.NotBefore.Equal(now.Add(-time.Minute)) {
		t.Errorf("NotBefore = %v, want now-1m = %v", leaf.NotBefore, now.Add(-time.Minute))
	}
	if !leaf.NotAfter.Equal(now.Add(24 * time.Hour)) {
		t.Errorf("NotAfter = %v, want now+24h", leaf.NotAfter)
	}
	if len(leaf.SubjectKeyId) == 0 {
		t.Error("no SKI")
	}
	if !bytes.Equal(leaf.AuthorityKeyId, inter.SubjectKeyId) {
		t.Error("AKI != intermediate SKI")
	}
	if !leaf.PublicKey.(*ecdsa.PublicKey).Equal(key.Public()) {
		t.Error("leaf does not certify the requested key")
	}
	if err := leaf.CheckSignatureFrom(inter); err != nil {
		t.Errorf("not signed by the intermediate: %v", err)
	}
	assertLeafExtensions(t, leaf)

	// The leaf is an X509-SVID as go-spiffe reads one.
	td := spiffeid.RequireTrustDomainFromString(catest.TrustDomain)
	bundle := x509bundle.FromX509Authorities(td, []*x509.Certificate{c.Authority.Root()})
	id, _, err := x509svid.Verify([]*x509.Certificate{leaf, inter}, bundle, x509svid.WithTime(now))
	if err != nil {
		t.Fatalf("go-spiffe x509svid.Verify: %v", err)
	}
	if id.String() != "spiffe://certbound.local/svc-a" {
		t.Errorf("go-spiffe ID = %s", id)
	}
	keyPEM, err := pemutil.Serialize(key, pemutil.WithPKCS8(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x509svid.Parse(c.Authority.ChainPEM(leaf), pem.EncodeToMemory(keyPEM)); err != nil {
		t.Errorf("go-spiffe x509svid.Parse (leaf and signing-certificate rules): %v", err)
	}
}

// TestLeafKeyUsageByKeyType: keyEncipherment for RSA keys only (SPEC §2).
func TestLeafKeyUsageByKeyType(t *testing.T) {
	c := catest.New(t)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		pub  crypto.PublicKey
		want x509.KeyUsage
	}{
		{"accept/rsa-2048", rsaKey.Public(), x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment},
		{"accept/ed25519", edKey.Public(), x509.KeyUsageDigitalSignature},
		{"accept/p256", newP256(t).Public(), x509.KeyUsageDigitalSignature},
		{"accept/p384", p384.Public(), x509.KeyUsageDigitalSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leaf, err := c.Authority.IssueLeaf(ca.LeafRequest{ClientID: "svc-a", PublicKey: tt.pub, Lifetime: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			if leaf.KeyUsage != tt.want {
				t.Fatalf("KeyUsage = %b, want %b", leaf.KeyUsage, tt.want)
			}
			c.Status.Record(certs.SerialString(leaf.SerialNumber))
			if _, err := c.Authority.VerifyClient(t.Context(), []*x509.Certificate{leaf}); err != nil {
				t.Fatalf("VerifyClient: %v", err)
			}
		})
	}
}

// TestCSRContributesOnlyItsKey: a CSR asking for extra SANs, another subject,
// CA basic constraints and keyCertSign changes nothing but the key (STYLE C7,
// checklist 5280-BC, 5280-KU).
func TestCSRContributesOnlyItsKey(t *testing.T) {
	c := catest.New(t)
	key := newP256(t)
	bc, _ := asn1.Marshal(struct {
		IsCA       bool `asn1:"optional"`
		MaxPathLen int  `asn1:"optional,default:-1"`
	}{true, 5})
	ku, _ := asn1.Marshal(asn1.BitString{Bytes: []byte{0x06}, BitLength: 7}) // keyCertSign|cRLSign
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:        pkix.Name{CommonName: "admin", Organization: []string{"Evil Corp"}},
		DNSNames:       []string{"evil.example"},
		EmailAddresses: []string{"root@evil.example"},
		IPAddresses:    []net.IP{net.ParseIP("10.0.0.1")},
		URIs: []*url.URL{
			{Scheme: "spiffe", Host: "certbound.local", Path: "/admin"},
			{Scheme: "spiffe", Host: "evil.example", Path: "/svc-a"},
		},
		ExtraExtensions: []pkix.Extension{
			{Id: oidBasicConstraints, Critical: true, Value: bc},
			{Id: oidKeyUsage, Critical: true, Value: ku},
		},
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := certs.ParseCSR(certs.EncodeCSR(der))
	if err != nil {
		t.Fatal(err)
	}
	if len(csr.Extensions) < 3 {
		t.Fatalf("the CSR should carry its extra extensions, has %d", len(csr.Extensions))
	}
	leaf, err := c.Authority.IssueLeaf(ca.LeafRequest{ClientID: "svc-a", PublicKey: csr.PublicKey, Lifetime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if leaf.IsCA || leaf.MaxPathLen > 0 || leaf.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("CSR extensions leaked: IsCA=%v pathlen=%d KU=%b", leaf.IsCA, leaf.MaxPathLen, leaf.KeyUsage)
	}
	if got := leaf.Subject.String(); got != "CN=svc-a" {
		t.Errorf("Subject = %q, want CN=svc-a", got)
	}
	if len(leaf.URIs) != 1 || leaf.URIs[0].String() != "spiffe://certbound.local/svc-a" {
		t.Errorf("URIs = %v", leaf.URIs)
	}
	if len(leaf.DNSNames)+len(leaf.EmailAddresses)+len(leaf.IPAddresses) != 0 {
		t.Errorf("CSR SANs leaked: %v %v %v", leaf.DNSNames, leaf.EmailAddresses, leaf.IPAddresses)
	}
	if !leaf.PublicKey.(*ecdsa.PublicKey).Equal(key.Public()) {
		t.Error("leaf does not certify the CSR's key")
	}
	assertLeafExtensions(t, leaf)
}

// TestLeafNeverOutlivesIntermediate: checklist 5280-VAL.
func TestLeafNeverOutlivesIntermediate(t *testing.T) {
	now, _ := fixedClock()
	bootNow := now.Add(-10*365*24*time.Hour + time.Hour) // the intermediate expires in about an hour
	dir := bootstrap(t, ca.BootstrapOptions{Now: func() time.Time { return bootNow }})
	current := now
	a, err := ca.New(ca.Config{Dir: dir, Status: &catest.Status{}, Now: func() time.Time { return current }})
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := a.IssueLeaf(ca.LeafRequest{ClientID: "svc-a", PublicKey: newP256(t).Public(), Lifetime: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if !leaf.NotAfter.Equal(a.Intermediate().NotAfter) {
		t.Fatalf("NotAfter = %v, want the intermediate's %v", leaf.NotAfter, a.Intermediate().NotAfter)
	}
	current = a.Intermediate().NotAfter.Add(time.Second)
	if _, err := a.IssueLeaf(ca.LeafRequest{ClientID: "svc-a", PublicKey: newP256(t).Public(), Lifetime: time.Hour}); !errors.Is(err, ca.ErrInconsistent) {
		t.Fatalf("IssueLeaf after the intermediate expired: error = %v, want ErrInconsistent", err)
	}
}

func TestIssueLeafRejects(t *testing.T) {
	c := catest.New(t)
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	good := newP256(t).Public()
	many := make([]string, 101)
	for i := range many {
		many[i] = "n" + strings.Repeat("x", i%5) + ".example"
	}
	tests := []struct {
		name      string
		req       ca.LeafRequest
		wantField string
		wantErr   error // also matched with errors.Is when set
	}{
		{"reject/client-id-empty", ca.LeafRequest{PublicKey: good, Lifetime: time.Hour}, "client_id", certs.ErrInvalidID},
		{"reject/client-id-uppercase", ca.LeafRequest{ClientID: "Svc-A", PublicKey: good, Lifetime: time.Hour}, "client_id", certs.ErrInvalidID},
		{"reject/client-id-path", ca.LeafRequest{ClientID: "svc/admin", PublicKey: good, Lifetime: time.Hour}, "client_id", certs.ErrInvalidID},
		{"reject/key-missing", ca.LeafRequest{ClientID: "svc-a", Lifetime: time.Hour}, "public_key", certs.ErrUnsupportedKey},
		{"reject/key-p224", ca.LeafRequest{ClientID: "svc-a", PublicKey: p224.Public(), Lifetime: time.Hour}, "public_key", certs.ErrUnsupportedKey},
		{"reject/key-private", ca.LeafRequest{ClientID: "svc-a", PublicKey: p224, Lifetime: time.Hour}, "public_key", certs.ErrUnsupportedKey},
		{"reject/dns-uppercase", ca.LeafRequest{ClientID: "svc-a", PublicKey: good, DNSNames: []string{"Svc.Example"}, Lifetime: time.Hour}, "dns_names", nil},
		{"reject/dns-trailing-dot", ca.LeafRequest{ClientID: "svc-a", PublicKey: good, DNSNames: []string{"svc.example."}, Lifetime: time.Hour}, "dns_names", nil},
		{"reject/dns-wildcard", ca.LeafRequest{ClientID: "svc-a", PublicKey: good, DNSNames: []string{"*.example"}, Lifetime: time.Hour}, "dns_names", nil},
		{"reject/dns-empty", ca.LeafRequest{ClientID: "svc-a", PublicKey: good, DNSNames: []string{""}, Lifetime: time.Hour}, "dns_names", nil},
		{"reject/dns-ipv4", ca.LeafRequest{ClientID: "svc-a", PublicKey: good, DNSNames: []string{"127.0.0.1"}, Lifetime: time.Hour}, "dns_names", nil},
		{"reject/dns-label-hyphen", ca.LeafRequest{ClientID: "svc-a", PublicKey: good, DNSNames: []string{"-svc.example"}, Lifetime: time.Hour}, "dns_names", nil},
		{"reject/dns-too-many", ca.LeafRequest{ClientID: "svc-a", PublicKey: good, DNSNames: many, Lifetime: time.Hour}, "dns_names", nil},
		{"reject/lifetime-zero", ca.LeafRequest{ClientID: "svc-a", PublicKey: good}, "lifetime", nil},
		{"reject/lifetime-negative", ca.LeafRequest{ClientID: "svc-a", PublicKey: good, Lifetime: -time.Hour}, "lifetime", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leaf, err := c.Authority.IssueLeaf(tt.req)
			if leaf != nil {
				t.Fatal("IssueLeaf returned a certificate with an error")
			}
			var pe *ca.PolicyError
			if !errors.As(err, &pe) {
				t.Fatalf("error = %v, want *PolicyError", err)
			}
			if pe.Field != tt.wantField {
				t.Errorf("Field = %q, want %q", pe.Field, tt.wantField)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error = %v, want it to wrap %v", err, tt.wantErr)
			}
		})
	}
}

func TestIssueLeafSerialsAreUnique(t *testing.T) {
	c := catest.New(t)
	pub := newP256(t).Public()
	seen := map[string]bool{}
	for range 200 {
		leaf, err := c.Authority.IssueLeaf(ca.LeafRequest{ClientID: "svc-a", PublicKey: pub, Lifetime: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		s := certs.SerialString(leaf.SerialNumber)
		if seen[s] {
			t.Fatalf("serial %s issued twice", s)
		}
		seen[s] = true
		if len(leaf.SerialNumber.Bytes()) > 20 || leaf.SerialNumber.Sign() <= 0 {
			t.Fatalf("serial %s: want positive and at most 20 octets", s)
		}
	}
}

func TestChainPEM(t *testing.T) {
	c := catest.New(t)
	_, leaf := c.Leaf(t, "svc-a")
	chain, err := certs.ParseCertificates(c.Authority.ChainPEM(leaf))
	if err != nil {
		t.Fatal(err)
	}
	if len(chain) != 2 || !chain[0].Equal(leaf) || !chain[1].Equal(c.Authority.Intermediate()) {
		t.Fatalf("ChainPEM = %d certificates, want leaf then intermediate", len(chain))
	}
}

func TestIssueServer(t *testing.T) {
	c := catest.New(t)
	names := []string{"localhost", "127.0.0.1", "::1", "certbound.example"}
	cert, err := c.Authority.IssueServer(names, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	leaf := cert.Leaf
	if len(cert.Certificate) != 2 || !bytes.Equal(cert.Certificate[0], leaf.Raw) ||
		!bytes.Equal(cert.Certificate[1], c.Authority.Intermediate().Raw) {
		t.Fatal("want leaf then intermediate in Certificate")
	}
	if signer, ok := cert.PrivateKey.(*ecdsa.PrivateKey); !ok || signer.Curve != elliptic.P256() ||
		!signer.PublicKey.Equal(leaf.PublicKey) {
		t.Fatalf("PrivateKey %T does not match the leaf, or is not P-256", cert.PrivateKey)
	}
	if leaf.Subject.CommonName != "localhost" || leaf.IsCA {
		t.Errorf("CN=%q IsCA=%v", leaf.Subject.CommonName, leaf.IsCA)
	}
	// The one URI SAN is the server identity every certbound client requires.
	if len(leaf.URIs) != 1 || leaf.URIs[0].String() != "spiffe://"+catest.TrustDomain+certs.ServerPath {
		t.Errorf("URIs = %v, want exactly spiffe://%s%s", leaf.URIs, catest.TrustDomain, certs.ServerPath)
	}
	if err := certs.CheckServerCertificate(leaf); err != nil {
		t.Errorf("CheckServerCertificate(server certificate): %v", err)
	}
	if !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
		t.Errorf("ExtKeyUsage = %v, want serverAuth only", leaf.ExtKeyUsage)
	}
	inter := x509.NewCertPool()
	inter.AddCert(c.Authority.Intermediate())
	for _, name := range names {
		if _, err := leaf.Verify(x509.VerifyOptions{
			DNSName:       name,
			Roots:         c.RootPool(),
			Intermediates: inter,
			KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}); err != nil {
			t.Errorf("verify for %s: %v", name, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "other.example", Roots: c.RootPool(), Intermediates: inter}); err == nil {
		t.Error("server certificate verifies for a name it does not carry")
	}
	// No leaf for a client passes as the server, whatever names it carries.
	_, svc := c.Leaf(t, "svc-a", catest.DNSNames(names[0], names[3]))
	if err := certs.CheckServerCertificate(svc); !errors.Is(err, certs.ErrNotCertboundServer) {
		t.Errorf("CheckServerCertificate(service leaf) = %v, want ErrNotCertboundServer", err)
	}
	// It must not pass as a client certificate.
	if _, err := c.Authority.VerifyClient(t.Context(), []*x509.Certificate{leaf}); !errors.Is(err, ca.ErrUntrusted) {
		t.Errorf("VerifyClient(server certificate) error = %v, want ErrUntrusted", err)
	}

	for _, bad := range []struct {
		name  string
		names []string
		life  time.Duration
		field string
	}{
		{"reject/no-names", nil, time.Hour, "names"},
		{"reject/bad-name", []string{"Local Host"}, time.Hour, "dns_names"},
		{"reject/no-lifetime", []string{"localhost"}, 0, "lifetime"},
	} {
		t.Run(bad.name, func(t *testing.T) {
			_, err := c.Authority.IssueServer(bad.names, bad.life)
			var pe *ca.PolicyError
			if !errors.As(err, &pe) || pe.Field != bad.field {
				t.Fatalf("error = %v, want *PolicyError for %s", err, bad.field)
			}
		})
	}
}

// TestOpenSSLVerify: an independent X.509 implementation accepts the chain
// for both TLS purposes, and rejects a leaf from another CA.
func TestOpenSSLVerify(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	c := catest.New(t)
	_, leaf := c.Leaf(t, "svc-a", catest.DNSNames("svc-a.internal"))
	_, foreign := catest.ForeignCA(t).Leaf(t, "svc-a")
	dir := t.TempDir()
	write := func(name string, cs ...*x509.Certificate) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, certs.EncodeCertificates(cs...), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	root := write("root.pem", c.Authority.Root())
	inter := write("intermediate.pem", c.Authority.Intermediate())
	good := write("leaf.pem", leaf)
	bad := write("foreign.pem", foreign)
	for _, purpose := range []string{"sslclient", "sslserver"} {
		out, err := exec.Command(openssl, "verify", "-x509_strict", "-purpose", purpose,
			"-CAfile", root, "-untrusted", inter, good).CombinedOutput()
		if err != nil || !strings.Contains(string(out), ": OK") {
			t.Errorf("openssl verify -purpose %s: %v\n%s", purpose, err, out)
		}
	}
	out, err := exec.Command(openssl, "verify", "-CAfile", root, "-untrusted", inter, bad).CombinedOutput()
	if err == nil {
		t.Errorf("openssl accepted a leaf from another CA:\n%s", out)
	}
}
