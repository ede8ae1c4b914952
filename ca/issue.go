package ca

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"time"

	"go.step.sm/crypto/keyutil"

	"github.com/certbound/certbound/certs"
)

// maxDNSNames bounds the DNS SANs of one certificate.
const maxDNSNames = 100

// LeafRequest is what IssueLeaf certifies. It deliberately has no room for
// anything a CSR asks for beyond its public key.
type LeafRequest struct {
	// ClientID becomes the subject CN and the URI SAN spiffe://<td>/<ClientID>.
	ClientID string
	// PublicKey comes from a CSR already parsed by certs.ParseCSR; it must
	// pass certs.CheckPublicKey.
	PublicKey crypto.PublicKey
	// DNSNames are extra DNS SANs, already authorised by the caller (the
	// enrollment token). Lowercase LDH names; no wildcards, no trailing dot.
	DNSNames []string
	// Lifetime must be positive; the caller clamps it to its policy. NotAfter
	// is further clamped to the intermediate's NotAfter.
	Lifetime time.Duration
}

// IssueLeaf signs an X509-SVID for req following the profile in profile.go
// (SPEC §2) and returns it parsed, with Raw set. A request the profile refuses
// gives a *PolicyError. The caller records the certificate.
func (a *Authority) IssueLeaf(req LeafRequest) (*x509.Certificate, error) {
	id, err := certs.NewID(a.trustDomain, req.ClientID)
	if err != nil {
		return nil, &PolicyError{Field: "client_id", Reason: "must match ^[a-z0-9][a-z0-9._-]{0,62}$", Err: err}
	}
	if err := certs.CheckPublicKey(req.PublicKey); err != nil {
		reason := "unsupported public key"
		if ke := (*certs.KeyError)(nil); errors.As(err, &ke) {
			reason = ke.Reason
		}
		return nil, &PolicyError{Field: "public_key", Reason: reason, Err: err}
	}
	if err := checkDNSNames(req.DNSNames); err != nil {
		return nil, err
	}
	if req.Lifetime <= 0 {
		return nil, &PolicyError{Field: "lifetime", Reason: "must be positive"}
	}
	now := a.now()
	if !now.Before(a.intermediate.NotAfter) {
		return nil, fmt.Errorf("%w: the intermediate expired at %s", ErrInconsistent, a.intermediate.NotAfter.Format(time.RFC3339))
	}
	dns := append([]string(nil), req.DNSNames...) // the template must not alias the caller's slice
	tmpl, err := leafTemplate(id, dns, req.PublicKey, req.Lifetime, now, a.intermediate)
	if err != nil {
		return nil, fmt.Errorf("ca: issue leaf for %s: %w", id, err)
	}
	leaf, err := sign(tmpl, a.intermediate, req.PublicKey, a.signer)
	if err != nil {
		return nil, fmt.Errorf("ca: issue leaf for %s: %w", id, err)
	}
	return leaf, nil
}

// ChainPEM returns leaf followed by the intermediate, as PEM: what a client
// presents in its TLS handshake.
func (a *Authority) ChainPEM(leaf *x509.Certificate) []byte {
	return append(certs.EncodeCertificates(leaf), a.intermediatePEM...)
}

// IssueServer makes certbound's own TLS server certificate: a fresh P-256
// key, serverAuth only, CN = names[0], a DNS or IP SAN for every name, and the
// URI SAN spiffe://<trust-domain>/certbound/server that certbound's clients
// require (certs.CheckServerCertificate). The result carries the leaf and the
// intermediate, and Leaf is set.
func (a *Authority) IssueServer(names []string, lifetime time.Duration) (tls.Certificate, error) {
	if len(names) == 0 {
		return tls.Certificate{}, &PolicyError{Field: "names", Reason: "at least one DNS name or IP address is required"}
	}
	var dns []string
	for _, n := range names {
		if net.ParseIP(n) == nil {
			dns = append(dns, n)
		}
	}
	if err := checkDNSNames(dns); err != nil {
		return tls.Certificate{}, err
	}
	if lifetime <= 0 {
		return tls.Certificate{}, &PolicyError{Field: "lifetime", Reason: "must be positive"}
	}
	key, err := keyutil.GenerateSigner("EC", "P-256", 0)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("ca: server key: %w", err)
	}
	tmpl, err := serverTemplate(a.trustDomain, names, key.Public(), lifetime, a.now(), a.intermediate)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("ca: server certificate: %w", err)
	}
	leaf, err := sign(tmpl, a.intermediate, key.Public(), a.signer)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("ca: server certificate: %w", err)
	}
	return tls.Certificate{
		Certificate: [][]byte{leaf.Raw, a.intermediate.Raw},
		PrivateKey:  key,
		Leaf:        leaf,
	}, nil
}

// checkDNSNames accepts at most maxDNSNames names, each passing
// certs.ValidDNSName (lowercase RFC 1123 host names, no wildcard, no trailing
// dot, no all-digit last label).
func checkDNSNames(names []string) error {
	if len(names) > maxDNSNames {
		return &PolicyError{Field: "dns_names", Reason: fmt.Sprintf("at most %d names", maxDNSNames)}
	}
	for _, n := range names {
		if !certs.ValidDNSName(n) {
			return &PolicyError{Field: "dns_names", Reason: fmt.Sprintf("%q is not a lowercase host name", n)}
		}
	}
	return nil
}
