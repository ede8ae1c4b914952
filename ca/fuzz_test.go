package ca_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/certbound/certbound/ca"
	"github.com/certbound/certbound/ca/catest"
	"github.com/certbound/certbound/certs"
)

// FuzzVerifyClient feeds arbitrary DER to VerifyClient as a presented leaf
// (the TLS stack hands over whatever parses). Property: it either refuses
// with one of its verdict sentinels, or returns a Peer whose leaf chains to
// the root with clientAuth and names exactly one client of the trust domain.
func FuzzVerifyClient(f *testing.F) {
	c := catest.New(f)
	foreign := catest.ForeignCA(f)
	for _, cert := range []tls.Certificate{
		must(c.Leaf(f, "svc-a", catest.DNSNames("svc-a.internal"))),
		must(c.ExpiredLeaf(f, "svc-a")),
		must(c.TwoURISANsLeaf(f, "svc-a")),
		must(c.WrongTrustDomainLeaf(f, "svc-a")),
		must(c.CALeaf(f, "svc-a")),
		must(c.ServerAuthOnlyLeaf(f, "svc-a")),
		must(c.IntermediateAsLeaf(f)),
		must(foreign.Leaf(f, "svc-a")),
		must(catest.SelfSigned(f, "svc-a")),
	} {
		f.Add(cert.Certificate[0])
	}
	verdicts := []error{ca.ErrUntrusted, ca.ErrIdentity, ca.ErrRevoked, ca.ErrClientDisabled, ca.ErrUnknownClient}
	inter := x509.NewCertPool()
	inter.AddCert(c.Authority.Intermediate())

	f.Fuzz(func(t *testing.T, der []byte) {
		leaf, err := x509.ParseCertificate(der)
		if err != nil {
			return
		}
		peer, err := c.Authority.VerifyClient(t.Context(), []*x509.Certificate{leaf})
		if err != nil {
			for _, v := range verdicts {
				if errors.Is(err, v) {
					return
				}
			}
			t.Fatalf("error outside the verdict sentinels: %v", err)
		}
		if _, err := leaf.Verify(x509.VerifyOptions{
			Roots: c.RootPool(), Intermediates: inter,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}); err != nil {
			t.Fatalf("accepted a leaf that does not verify: %v", err)
		}
		id, err := certs.IDFromCertificate(leaf)
		if err != nil || id != peer.ID() || id.TrustDomain != catest.TrustDomain || leaf.IsCA {
			t.Fatalf("accepted a leaf with identity %v (%v), IsCA=%v", id, err, leaf.IsCA)
		}
	})
}
