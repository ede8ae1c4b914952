package catest

import (
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/url"
	"testing"
	"time"

	"github.com/certbound/certbound/certs"
)

// The failure fixtures below are real leaves from CA.Leaf, re-signed by the
// real intermediate with exactly one rule of the profile broken. Each is named
// after the rule it breaks, and each returns the leaf + intermediate with the
// leaf's private key, usable in a real TLS handshake.

// ExpiredLeaf breaks the validity period: NotAfter is an hour in the past.
func (c *CA) ExpiredLeaf(t testing.TB, clientID string) (tls.Certificate, *x509.Certificate) {
	t.Helper()
	now := c.now()
	return c.broken(t, clientID, func(l *x509.Certificate) {
		l.NotBefore, l.NotAfter = now.Add(-2*time.Hour), now.Add(-time.Hour)
	})
}

// NotYetValidLeaf breaks the validity period: NotBefore is an hour ahead.
func (c *CA) NotYetValidLeaf(t testing.TB, clientID string) (tls.Certificate, *x509.Certificate) {
	t.Helper()
	now := c.now()
	return c.broken(t, clientID, func(l *x509.Certificate) {
		l.NotBefore, l.NotAfter = now.Add(time.Hour), now.Add(2*time.Hour)
	})
}

// TwoURISANsLeaf breaks SPIFFE X509-SVID §2 ("exactly one URI SAN"): it
// names the client and a second SPIFFE ID of the same trust domain.
func (c *CA) TwoURISANsLeaf(t testing.TB, clientID string) (tls.Certificate, *x509.Certificate) {
	t.Helper()
	return c.broken(t, clientID, func(l *x509.Certificate) {
		l.URIs = append(l.URIs, &url.URL{Scheme: "spiffe", Host: TrustDomain, Path: "/" + clientID + "-twin"})
	})
}

// NoURISANLeaf breaks SPIFFE X509-SVID §2: it has no URI SAN at all.
func (c *CA) NoURISANLeaf(t testing.TB, clientID string) (tls.Certificate, *x509.Certificate) {
	t.Helper()
	return c.broken(t, clientID, func(l *x509.Certificate) { l.URIs = nil })
}

// WrongTrustDomainLeaf breaks the trust domain rule: its URI SAN is
// spiffe://other.example/<clientID>, signed by this CA all the same.
func (c *CA) WrongTrustDomainLeaf(t testing.TB, clientID string) (tls.Certificate, *x509.Certificate) {
	t.Helper()
	return c.broken(t, clientID, func(l *x509.Certificate) {
		l.URIs = []*url.URL{{Scheme: "spiffe", Host: "other.example", Path: "/" + clientID}}
	})
}

// CALeaf breaks SPIFFE X509-SVID §4.1/§4.3 for leaves: cA=TRUE and
// keyCertSign, with the clientAuth usage and SPIFFE ID of a good leaf.
func (c *CA) CALeaf(t testing.TB, clientID string) (tls.Certificate, *x509.Certificate) {
	t.Helper()
	return c.broken(t, clientID, func(l *x509.Certificate) {
		l.IsCA = true
		l.MaxPathLenZero = true
		l.KeyUsage |= x509.KeyUsageCertSign
	})
}

// KeyCertSignLeaf breaks SPIFFE X509-SVID §4.3 alone: cA=FALSE, but the key
// usage includes keyCertSign (crypto/x509 signs such a leaf without protest).
func (c *CA) KeyCertSignLeaf(t testing.TB, clientID string) (tls.Certificate, *x509.Certificate) {
	t.Helper()
	return c.broken(t, clientID, func(l *x509.Certificate) { l.KeyUsage |= x509.KeyUsageCertSign })
}

// ServerAuthOnlyLeaf breaks the client usage rule: its ExtKeyUsage is
// serverAuth only, so it must not authenticate a TLS client (RFC 5280 §4.2.1.12).
func (c *CA) ServerAuthOnlyLeaf(t testing.TB, clientID string) (tls.Certificate, *x509.Certificate) {
	t.Helper()
	return c.broken(t, clientID, func(l *x509.Certificate) {
		l.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	})
}

// IntermediateAsLeaf presents the CA's own intermediate, with its key, as a
// client certificate. Signing certificates "MUST NOT be used for
// authentication purposes" (SPIFFE X509-SVID §3.2).
func (c *CA) IntermediateAsLeaf(t testing.TB) (tls.Certificate, *x509.Certificate) {
	t.Helper()
	in := c.Authority.Intermediate()
	return tls.Certificate{Certificate: [][]byte{in.Raw}, PrivateKey: c.intermediateKey, Leaf: in}, in
}

// RootAsLeaf presents the CA's root, with its key, as a client certificate.
func (c *CA) RootAsLeaf(t testing.TB) (tls.Certificate, *x509.Certificate) {
	t.Helper()
	r := c.Authority.Root()
	return tls.Certificate{Certificate: [][]byte{r.Raw}, PrivateKey: c.rootKey, Leaf: r}, r
}

// SiblingLeaf is a good-looking leaf for clientID whose issuer is another
// intermediate with the same name, also signed by this CA's root (as one
// made for something else, or an old one, would be): the root vouches for
// it, but it is not the intermediate certbound issues with, and the leaf must
// be refused. The chain returned is leaf, sibling intermediate.
func (c *CA) SiblingLeaf(t testing.TB, clientID string) []*x509.Certificate {
	t.Helper()
	in := c.Authority.Intermediate()
	sibKey := newKey(t)
	sib := signCert(t, &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               in.Subject,
		NotBefore:             in.NotBefore,
		NotAfter:              in.NotAfter,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, c.Authority.Root(), sibKey.Public(), c.rootKey)
	_, good := c.Leaf(t, clientID)
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               good.Subject,
		URIs:                  good.URIs,
		NotBefore:             good.NotBefore,
		NotAfter:              good.NotAfter,
		BasicConstraintsValid: true,
		KeyUsage:              good.KeyUsage,
		ExtKeyUsage:           good.ExtKeyUsage,
	}
	return []*x509.Certificate{signCert(t, tmpl, sib, key.Public(), sibKey), sib}
}

// SelfSigned makes a self-signed certificate for a fresh P-256 key that
// otherwise looks like a certbound leaf: CN=clientID, URI SAN
// spiffe://certbound.local/<clientID>, cA=FALSE, digitalSignature,
// serverAuth+clientAuth, valid from a minute ago for an hour. It is what a
// self_signed_tls_client_auth client registers (RFC 8705 §2.2), and what
// VerifyClient must refuse.
func SelfSigned(t testing.TB, clientID string) (tls.Certificate, *x509.Certificate) {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: clientID},
		URIs:                  []*url.URL{{Scheme: "spiffe", Host: TrustDomain, Path: "/" + clientID}},
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(DefaultLifetime),
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	cert := signCert(t, tmpl, tmpl, key.Public(), key)
	return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}, cert
}

// broken issues a good leaf, lets breakRule change a copy of its fields, and
// re-signs that with the intermediate key under a new serial.
func (c *CA) broken(t testing.TB, clientID string, breakRule func(*x509.Certificate)) (tls.Certificate, *x509.Certificate) {
	t.Helper()
	key := newKey(t)
	_, good := c.Leaf(t, clientID, Key(key))
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: good.Subject.CommonName},
		URIs:                  good.URIs,
		DNSNames:              good.DNSNames,
		NotBefore:             good.NotBefore,
		NotAfter:              good.NotAfter,
		BasicConstraintsValid: true,
		KeyUsage:              good.KeyUsage,
		ExtKeyUsage:           good.ExtKeyUsage,
		SubjectKeyId:          good.SubjectKeyId,
	}
	breakRule(tmpl)
	leaf := signCert(t, tmpl, c.Authority.Intermediate(), key.Public(), c.intermediateKey)
	return c.pair(leaf, key), leaf
}

func signCert(t testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, key crypto.Signer) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		t.Fatalf("catest: sign fixture: %v", err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("catest: parse fixture: %v", err)
	}
	return c
}

func serial(t testing.TB) *big.Int {
	t.Helper()
	return certs.NewSerial(time.Now())
}
