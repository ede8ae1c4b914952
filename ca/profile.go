package ca

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"net/url"
	"time"

	"go.step.sm/crypto/x509util"

	"github.com/certbound/certbound/certs"
)

// backdate is how far NotBefore lies before the signing time, so that peers
// whose clocks run a little behind accept a fresh certificate (SPEC §2, §3).
const backdate = time.Minute

// leafBackdate is backdate, shrunk for lifetimes under ten minutes (used in
// tests and demos with seconds-long certificates) to a tenth of the lifetime:
// otherwise the minute would dominate the validity period and a renewer that
// acts at two thirds of NotAfter-NotBefore would find every new certificate
// already due.
func leafBackdate(lifetime time.Duration) time.Duration {
	return min(backdate, lifetime/10)
}

// leafTemplate is the entire X509-SVID issuance policy (SPEC §2; SPIFFE
// X509-SVID §§2–4; RFC 5280 §4). Every field is set here from policy: the CSR
// contributes pub and nothing else, and id and dns were checked by the caller.
func leafTemplate(id certs.ID, dns []string, pub crypto.PublicKey, lifetime time.Duration, now time.Time, issuer *x509.Certificate) (*x509.Certificate, error) {
	// 80 CSPRNG bits (SPEC: ≥ 64) after the time, positive, 16 octets (certs.NewSerial).
	serial := certs.NewSerial(now)
	// crypto/x509 generates an SKI only for CA certificates; RFC 5280 §4.2.1.2
	// method 1 (SHA-1 of the subjectPublicKey bits). The AKI is copied from the
	// intermediate's SKI by crypto/x509.
	ski, err := x509util.GenerateSubjectKeyID(pub)
	if err != nil {
		return nil, err
	}
	// SVID §4.3: digitalSignature, never keyCertSign or cRLSign;
	// keyEncipherment only where it means something (RSA key transport).
	usage := x509.KeyUsageDigitalSignature
	if certs.IsRSA(pub) {
		usage |= x509.KeyUsageKeyEncipherment
	}
	// Never outlive the intermediate (RFC 5280 §6 would reject the tail anyway).
	notAfter := now.Add(lifetime)
	if issuer.NotAfter.Before(notAfter) {
		notAfter = issuer.NotAfter
	}
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: id.ClientID}, // non-empty, so the SAN stays non-critical
		URIs:         []*url.URL{id.URL()},               // SVID §2: exactly one URI SAN, the SPIFFE ID
		DNSNames:     dns,                                // optional; authorised by the enrollment token
		NotBefore:    now.Add(-leafBackdate(lifetime)),
		NotAfter:     notAfter,
		// SVID §4.1: cA=FALSE; crypto/x509 marks basicConstraints and keyUsage critical.
		BasicConstraintsValid: true,
		KeyUsage:              usage,
		// SVID §4.4: both, so the leaf works as a TLS client and as a TLS server.
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		SubjectKeyId: ski,
	}, nil
}

// serverTemplate is the profile of certbound's own TLS certificate: serverAuth
// only (so it can never authenticate as a client), CN = the first name, DNS
// and IP SANs from names, NotAfter clamped like a leaf's, and one URI SAN,
// spiffe://<trust-domain>/certbound/server (certs.ServerPath). Every
// certbound client requires that URI (certs.CheckServerCertificate): service
// leaves come from the same intermediate and carry serverAuth too, and this
// is the one thing none of them can carry (leafTemplate's only URI is
// spiffe://<td>/<client-id>, and a client id has no '/').
func serverTemplate(trustDomain string, names []string, pub crypto.PublicKey, lifetime time.Duration, now time.Time, issuer *x509.Certificate) (*x509.Certificate, error) {
	serial := certs.NewSerial(now)
	ski, err := x509util.GenerateSubjectKeyID(pub)
	if err != nil {
		return nil, err
	}
	notAfter := now.Add(lifetime)
	if issuer.NotAfter.Before(notAfter) {
		notAfter = issuer.NotAfter
	}
	t := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: names[0]},
		URIs:                  []*url.URL{certs.ServerURL(trustDomain)},
		NotBefore:             now.Add(-backdate),
		NotAfter:              notAfter,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		SubjectKeyId:          ski,
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			t.IPAddresses = append(t.IPAddresses, ip)
		} else {
			t.DNSNames = append(t.DNSNames, n)
		}
	}
	return t, nil
}
