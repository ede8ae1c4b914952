package certs

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
)

// ServerPath is the path of the SPIFFE ID in certbound's own TLS server
// certificate: spiffe://<trust-domain>/certbound/server. No service can ever
// get it: a client id is one path segment without '/' (ValidClientID), and
// the CA puts exactly one URI SAN, spiffe://<trust-domain>/<client-id>, in
// every service certificate.
const ServerPath = "/certbound/server"

// ErrNotCertboundServer: the TLS server's certificate chains to certbound's
// root but is not certbound's server certificate. It may be a service's
// certificate, which is signed by the same intermediate; a certbound client
// sends nothing to such a server.
var ErrNotCertboundServer = errors.New("the server's certificate is not certbound's server certificate (it may be a service's certificate)")

// ServerIdentityError says what the refused certificate carried. It wraps
// ErrNotCertboundServer.
type ServerIdentityError struct {
	// Found describes the certificate's identity, e.g. its SPIFFE ID
	// "spiffe://certbound.local/calendarservice" or "no URI SAN". Not secret.
	Found string
}

func (e *ServerIdentityError) Error() string {
	return fmt.Sprintf("refusing to talk to this server: %v: it carries %s, not spiffe://<trust-domain>%s", ErrNotCertboundServer, e.Found, ServerPath)
}

// Unwrap lets errors.Is(err, ErrNotCertboundServer) match.
func (e *ServerIdentityError) Unwrap() error { return ErrNotCertboundServer }

// ServerURL is the SPIFFE ID certbound's server certificate carries, as a URI
// SAN: spiffe://<trustDomain>/certbound/server.
func ServerURL(trustDomain string) *url.URL {
	return &url.URL{Scheme: "spiffe", Host: trustDomain, Path: ServerPath}
}

// CheckServerCertificate reports whether leaf is certbound's own server
// certificate: it must carry exactly one URI SAN, a SPIFFE ID of a valid trust
// domain whose path is exactly ServerPath. It does not verify the chain;
// callers check it against the pinned root first (as crypto/tls does before
// tls.Config.VerifyConnection). A refusal is a *ServerIdentityError.
func CheckServerCertificate(leaf *x509.Certificate) error {
	switch len(leaf.URIs) {
	case 0:
		return &ServerIdentityError{Found: "no URI SAN"}
	case 1:
	default:
		return &ServerIdentityError{Found: fmt.Sprintf("%d URI SANs", len(leaf.URIs))}
	}
	u := leaf.URIs[0]
	if u.Scheme != "spiffe" || u.Opaque != "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" ||
		u.Port() != "" || u.RawPath != "" || !ValidTrustDomain(u.Host) || u.Path != ServerPath {
		return &ServerIdentityError{Found: fmt.Sprintf("the identity %q", sanitizeURI(u.String()))}
	}
	return nil
}

// VerifyServerConnection is CheckServerCertificate for a TLS connection: set
// it as tls.Config.VerifyConnection of every client that talks to certbound.
// crypto/tls calls it after the chain and host name were verified against
// RootCAs, on full and resumed handshakes alike, and aborts the handshake
// when it fails: no request header or body is ever written.
func VerifyServerConnection(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return &ServerIdentityError{Found: "no certificate"}
	}
	return CheckServerCertificate(cs.PeerCertificates[0])
}

// sanitizeURI keeps printable ASCII and at most 200 bytes, so that a hostile
// certificate cannot put control characters into a terminal or a log.
func sanitizeURI(s string) string {
	b := make([]byte, 0, min(len(s), 200))
	for i := 0; i < len(s) && len(b) < 200; i++ {
		if c := s[i]; c >= 0x20 && c <= 0x7e {
			b = append(b, c)
		}
	}
	return string(b)
}
