package ca

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/certbound/certbound/certs"
)

// StatusSource is what VerifyClient asks about a presented certificate. The
// storage layer implements it; calls must be cheap (the caller may cache) and
// safe for concurrent use.
type StatusSource interface {
	// CertificateRevoked reports whether the certificate with this serial
	// (certs.SerialString) has been revoked. An unknown serial — one with no
	// record, for example issued just before a power loss rolled the
	// database back, or pruned — is revoked: that this CA signed it is not
	// enough, certbound accepts only certificates it has a record of (fail
	// closed). storagetest.StatusSource checks this of every backend.
	CertificateRevoked(ctx context.Context, serial string) (bool, error)
	// ClientDisabled reports whether the client is disabled. For a client
	// that does not exist (for example, deleted) return an error wrapping
	// ErrUnknownClient; VerifyClient then fails with that error. Returning
	// (true, nil) for it is also safe and fails with ErrClientDisabled.
	ClientDisabled(ctx context.Context, clientID string) (bool, error)
}

// Peer is a client identity proven by a verified certificate chain. Its
// fields are unexported: the only way to get a non-zero Peer is
// Authority.VerifyClient (STYLE C8).
type Peer struct {
	id         certs.ID
	leaf       *x509.Certificate
	serial     string
	thumbprint string
}

// ID returns the client's SPIFFE ID.
func (p Peer) ID() certs.ID { return p.id }

// ClientID returns the client id, the path of the SPIFFE ID.
func (p Peer) ClientID() string { return p.id.ClientID }

// Certificate returns the verified leaf certificate. Callers must not modify it.
func (p Peer) Certificate() *x509.Certificate { return p.leaf }

// Serial returns the leaf's serial number as certs.SerialString formats it.
func (p Peer) Serial() string { return p.serial }

// Thumbprint returns the leaf's RFC 8705 §3.1 "x5t#S256" thumbprint
// (certs.X5tS256 of its DER), the value bound tokens carry in cnf.
func (p Peer) Thumbprint() string { return p.thumbprint }

var clientAuth = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}

// VerifyClient turns the certificates a TLS client presented (as in
// tls.ConnectionState.PeerCertificates: leaf first, not verified by anyone,
// since the listener uses tls.RequestClientCert) into a Peer. In order:
//
//  1. There is a certificate (else ErrNoClientCert).
//  2. The leaf is not a CA: cA=FALSE, no keyCertSign or cRLSign, and it has
//     digitalSignature (SPIFFE X509-SVID §5.2). crypto/x509 would accept this
//     CA's own intermediate as a client "leaf", so this is checked here.
//  3. crypto/x509 verifies the chain (RFC 8705 §7.5) to this CA's root and
//     nothing else (RFC 8705 §7.4), through this CA's intermediate (whose
//     own link to the root New checked once); the other certificates the
//     peer sent are ignored. ExtKeyUsage clientAuth is
//     required and the time is the injected clock. Failures in 2 and 3 wrap
//     ErrUntrusted; a validity failure wraps ErrExpired as well.
//  4. The leaf has exactly one URI SAN, a SPIFFE ID of this trust domain whose
//     path is a valid client id (else ErrIdentity).
//  5. The StatusSource says the serial is not revoked (else ErrRevoked) and the
//     client is not disabled (else ErrClientDisabled or ErrUnknownClient).
//
// Any other error comes from the StatusSource and is not a verdict on the
// certificate. Call it on every request, also on resumed TLS sessions.
//
// Steps 2–4 depend only on the leaf's bytes, the Authority's trust anchors
// and the time, so their verdict is cached by the leaf's SHA-256 for as long
// as the time stays inside the chain's validity (see verifyCache): a
// certificate presented again costs a hash, not a chain verification. Step 5
// runs on every call.
func (a *Authority) VerifyClient(ctx context.Context, chain []*x509.Certificate) (Peer, error) {
	if len(chain) == 0 || chain[0] == nil {
		return Peer{}, ErrNoClientCert
	}
	leaf := chain[0]
	thumbprint := certs.X5tS256(leaf.Raw)
	now := a.now()
	v := a.verified.get(thumbprint)
	if v == nil || !v.validAt(now) {
		var err error
		if v, err = a.verifyChain(leaf, now); err != nil {
			a.verified.drop(thumbprint)
			return Peer{}, err
		}
		a.verified.put(thumbprint, v)
	}
	revoked, err := a.status.CertificateRevoked(ctx, v.serial)
	if err != nil {
		return Peer{}, fmt.Errorf("ca: revocation status of %s: %w", v.serial, err)
	}
	if revoked {
		return Peer{}, fmt.Errorf("%w: serial %s", ErrRevoked, v.serial)
	}
	disabled, err := a.status.ClientDisabled(ctx, v.id.ClientID)
	if err != nil {
		return Peer{}, fmt.Errorf("ca: status of client %s: %w", v.id.ClientID, err)
	}
	if disabled {
		return Peer{}, fmt.Errorf("%w: %s", ErrClientDisabled, v.id.ClientID)
	}
	return Peer{id: v.id, leaf: leaf, serial: v.serial, thumbprint: thumbprint}, nil
}

// verifyChain runs steps 2–4 of VerifyClient at now.
func (a *Authority) verifyChain(leaf *x509.Certificate, now time.Time) (*verified, error) {
	if leaf.IsCA || leaf.KeyUsage&(x509.KeyUsageCertSign|x509.KeyUsageCRLSign) != 0 {
		return nil, fmt.Errorf("%w: a CA certificate is not a client certificate", ErrUntrusted)
	}
	if leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return nil, fmt.Errorf("%w: key usage lacks digitalSignature", ErrUntrusted)
	}
	// The path is leaf → this CA's intermediate → its root, always. The
	// intermediate's signature by the root and its CA fields are fixed facts
	// that New checked (checkHierarchy); unless the root constrains the chain
	// (rootConstrainsChain), crypto/x509 verifies the leaf against the
	// intermediate as its anchor — one signature, not two — and the root's
	// validity is checked here. Same verdict, half the cost of a client's
	// first presentation (BenchmarkVerifyClient/uncached).
	if now.Before(a.root.NotBefore) || now.After(a.root.NotAfter) {
		return nil, fmt.Errorf("%w: %w: the root is valid from %s to %s", ErrUntrusted, ErrExpired,
			a.root.NotBefore.Format(time.RFC3339), a.root.NotAfter.Format(time.RFC3339))
	}
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots:         a.anchors,
		Intermediates: a.intermediates,
		CurrentTime:   now,        // zero would mean time.Now
		KeyUsages:     clientAuth, // empty would mean serverAuth
	})
	if err != nil {
		if inv := (x509.CertificateInvalidError{}); errors.As(err, &inv) && inv.Reason == x509.Expired {
			return nil, fmt.Errorf("%w: %w: %w", ErrUntrusted, ErrExpired, err)
		}
		return nil, fmt.Errorf("%w: %w", ErrUntrusted, err)
	}
	id, err := certs.IDFromCertificate(leaf)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrIdentity, err)
	}
	if id.TrustDomain != a.trustDomain {
		return nil, fmt.Errorf("%w: trust domain %q, want %q", ErrIdentity, id.TrustDomain, a.trustDomain)
	}
	nb, na := chainWindow(append(chains[0], a.root))
	return &verified{id: id, serial: certs.SerialString(leaf.SerialNumber), notBefore: nb, notAfter: na}, nil
}
