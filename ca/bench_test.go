package ca_test

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"path/filepath"
	"testing"
	"time"

	"go.step.sm/crypto/pemutil"

	"github.com/certbound/certbound/ca"
	"github.com/certbound/certbound/ca/catest"
	"github.com/certbound/certbound/certs"
)

// The "floor" sub-benchmarks do the bare crypto/x509 work each operation
// cannot avoid (one signature and a parse; one chain verification), so the
// overhead of the profile and the checks can be read off directly.

func BenchmarkIssueLeaf(b *testing.B) {
	c := catest.New(b)
	pub := newP256(b).Public()
	req := ca.LeafRequest{ClientID: "svc-a", PublicKey: pub, DNSNames: []string{"svc-a.internal"}, Lifetime: 24 * time.Hour}
	b.Run("authority", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Authority.IssueLeaf(req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("floor", func(b *testing.B) {
		key := intermediateKey(b, c)
		inter := c.Authority.Intermediate()
		b.ReportAllocs()
		for b.Loop() {
			tmpl := &x509.Certificate{
				SerialNumber: certs.NewSerial(time.Now()),
				Subject:      pkix.Name{CommonName: "svc-a"},
				NotBefore:    time.Now(),
				NotAfter:     time.Now().Add(time.Hour),
			}
			der, err := x509.CreateCertificate(rand.Reader, tmpl, inter, pub, key)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := x509.ParseCertificate(der); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkVerifyClient(b *testing.B) {
	c := catest.New(b)
	chain := catest.PeerCertificates(b, must(c.Leaf(b, "svc-a")))
	b.Run("authority", func(b *testing.B) {
		ctx := b.Context()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Authority.VerifyClient(ctx, chain); err != nil {
				b.Fatal(err)
			}
		}
	})
	// uncached: every call a certificate the Authority has not seen lately
	// (more distinct leaves than its cache holds, in turn), as when each
	// client presents a new certificate, e.g. to renew it.
	b.Run("uncached", func(b *testing.B) {
		ctx := b.Context()
		chains := make([][]*x509.Certificate, 16384)
		for i := range chains {
			chains[i] = catest.PeerCertificates(b, must(c.Leaf(b, "svc-a")))
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := c.Authority.VerifyClient(ctx, chains[i%len(chains)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("floor", func(b *testing.B) {
		opts := x509.VerifyOptions{
			Roots:         c.RootPool(),
			Intermediates: x509.NewCertPool(),
			KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}
		opts.Intermediates.AddCert(c.Authority.Intermediate())
		b.ReportAllocs()
		for b.Loop() {
			if _, err := chain[0].Verify(opts); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func intermediateKey(tb testing.TB, c *catest.CA) crypto.Signer {
	tb.Helper()
	k, err := pemutil.Read(filepath.Join(c.Dir, ca.IntermediateKeyFile))
	if err != nil {
		tb.Fatal(err)
	}
	return k.(crypto.Signer)
}
