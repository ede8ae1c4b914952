package ca

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"go.step.sm/crypto/keyutil"

	"github.com/certbound/certbound/certs"
)

// Config configures New. Status and one of Dir or Material are required.
type Config struct {
	// Dir is the CA directory made by Bootstrap (the server passes <data-dir>/ca).
	// Ignored when Material is set.
	Dir string
	// Material is the CA as PEM bytes (NewMaterial; the server loads it from
	// a database that replicas share). Nil means the CA is read from Dir.
	// Its RootKeyPEM is never parsed, just as New never reads root.key.
	Material *Material
	// Password decrypts the intermediate key when it is encrypted. Zero means
	// the key must be unencrypted; an encrypted key then fails with ErrPassword.
	Password []byte
	// TrustDomain is the SPIFFE trust domain of issued and accepted leaves.
	// Zero means certs.DefaultTrustDomain ("certbound.local").
	TrustDomain string
	// Status answers VerifyClient's revocation and client-status questions.
	// Required: New fails without it, so no Authority can skip those checks.
	Status StatusSource
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
}

// Authority issues leaves from the intermediate and verifies client
// certificates against the root. It is safe for concurrent use; its only
// mutable state is the cache of verified chains (verifyCache).
type Authority struct {
	root         *x509.Certificate // never nil
	intermediate *x509.Certificate // never nil; signed by root, cA, key == signer
	signer       crypto.Signer     // intermediate key; never nil

	// VerifyClient's x509.VerifyOptions. The root is the only trust anchor
	// (RFC 8705 §7.4) and the intermediate the only path. When the root
	// constrains nothing below it (see rootConstrainsChain), the pools hold
	// the intermediate as the anchor and nothing else: its own link to the
	// root was checked by New, so a leaf costs one signature check, not two.
	anchors, intermediates *x509.CertPool

	rootPEM         []byte // root.crt, re-encoded
	intermediatePEM []byte // tail of every ChainPEM
	rootFingerprint string // certs.Fingerprint(root.Raw)

	trustDomain string           // valid SPIFFE trust domain
	status      StatusSource     // never nil
	now         func() time.Time // never nil

	verified verifyCache // chains that verified, by leaf thumbprint
}

// New loads the CA in cfg.Dir, or from cfg.Material. It never reads root.key:
// the root key can be moved offline after Bootstrap and the server still
// runs. It refuses an intermediate.key file that group or others can access
// (certs.CheckPrivate), and checks that the intermediate is a currently valid CA certificate signed by
// the root whose public key matches intermediate.key (else ErrInconsistent).
func New(cfg Config) (*Authority, error) {
	if cfg.Status == nil {
		return nil, errors.New("ca: Config.Status is required")
	}
	td := cfg.TrustDomain
	if td == "" {
		td = certs.DefaultTrustDomain
	}
	if !certs.ValidTrustDomain(td) {
		return nil, fmt.Errorf("ca: trust domain %q: %w", td, certs.ErrInvalidID)
	}
	now := time.Now
	if cfg.Now != nil {
		now = cfg.Now
	}
	root, intermediate, signer, err := load(cfg)
	if err != nil {
		return nil, err
	}
	if err := checkHierarchy(root, intermediate, signer, now()); err != nil {
		return nil, err
	}
	a := &Authority{
		root:            root,
		intermediate:    intermediate,
		signer:          signer,
		anchors:         x509.NewCertPool(),
		intermediates:   x509.NewCertPool(),
		rootPEM:         certs.EncodeCertificates(root),
		intermediatePEM: certs.EncodeCertificates(intermediate),
		rootFingerprint: certs.Fingerprint(root.Raw),
		trustDomain:     td,
		status:          cfg.Status,
		now:             now,
	}
	if rootConstrainsChain(root) {
		a.anchors.AddCert(root)
		a.intermediates.AddCert(intermediate)
	} else {
		a.anchors.AddCert(intermediate)
	}
	return a, nil
}

// load reads the root, the intermediate and its key from cfg.Material or,
// without one, from the files in cfg.Dir.
func load(cfg Config) (root, intermediate *x509.Certificate, signer crypto.Signer, err error) {
	if m := cfg.Material; m != nil {
		if root, err = parseCertificate(m.RootCertPEM, RootCertFile); err != nil {
			return nil, nil, nil, err
		}
		if intermediate, err = parseCertificate(m.IntermediateCertPEM, IntermediateCertFile); err != nil {
			return nil, nil, nil, err
		}
		signer, err = parseSigner(m.IntermediateKeyPEM, IntermediateKeyFile, cfg.Password)
		return root, intermediate, signer, err
	}
	if root, err = readCertificate(filepath.Join(cfg.Dir, RootCertFile)); err != nil {
		return nil, nil, nil, err
	}
	if intermediate, err = readCertificate(filepath.Join(cfg.Dir, IntermediateCertFile)); err != nil {
		return nil, nil, nil, err
	}
	signer, err = readSigner(filepath.Join(cfg.Dir, IntermediateKeyFile), cfg.Password)
	return root, intermediate, signer, err
}

// checkHierarchy makes sure the CA files fit together before the first
// certificate is signed with them.
func checkHierarchy(root, intermediate *x509.Certificate, signer crypto.Signer, now time.Time) error {
	if !root.IsCA || root.KeyUsage&x509.KeyUsageCertSign == 0 {
		return fmt.Errorf("%w: %s is not a CA certificate", ErrInconsistent, RootCertFile)
	}
	if err := root.CheckSignatureFrom(root); err != nil {
		return fmt.Errorf("%w: %s is not self-signed: %w", ErrInconsistent, RootCertFile, err)
	}
	if intermediate.Equal(root) {
		return fmt.Errorf("%w: %s is the root; the root key must be able to stay offline", ErrInconsistent, IntermediateCertFile)
	}
	if !intermediate.IsCA || intermediate.KeyUsage&x509.KeyUsageCertSign == 0 {
		return fmt.Errorf("%w: %s is not a CA certificate", ErrInconsistent, IntermediateCertFile)
	}
	if err := intermediate.CheckSignatureFrom(root); err != nil {
		return fmt.Errorf("%w: %s is not signed by %s: %w", ErrInconsistent, IntermediateCertFile, RootCertFile, err)
	}
	if !keyutil.Equal(intermediate.PublicKey, signer.Public()) {
		return fmt.Errorf("%w: %s does not match %s", ErrInconsistent, IntermediateKeyFile, IntermediateCertFile)
	}
	for _, c := range []*x509.Certificate{root, intermediate} {
		if now.Before(c.NotBefore) || now.After(c.NotAfter) {
			return fmt.Errorf("%w: %q is valid from %s to %s", ErrInconsistent, c.Subject.CommonName,
				c.NotBefore.Format(time.RFC3339), c.NotAfter.Format(time.RFC3339))
		}
	}
	return nil
}

// rootConstrainsChain reports whether root carries anything crypto/x509
// applies to the certificates below it beyond their signatures and validity:
// extended key usages, name constraints, certificate policies or a path
// length that could forbid the intermediate. certbound's own roots
// (Bootstrap) carry none; a root put in the data dir by hand might, and then
// every leaf is verified all the way to it.
func rootConstrainsChain(root *x509.Certificate) bool {
	return len(root.ExtKeyUsage) > 0 || len(root.UnknownExtKeyUsage) > 0 ||
		root.PermittedDNSDomainsCritical || len(root.PermittedDNSDomains) > 0 || len(root.ExcludedDNSDomains) > 0 ||
		len(root.PermittedIPRanges) > 0 || len(root.ExcludedIPRanges) > 0 ||
		len(root.PermittedEmailAddresses) > 0 || len(root.ExcludedEmailAddresses) > 0 ||
		len(root.PermittedURIDomains) > 0 || len(root.ExcludedURIDomains) > 0 ||
		len(root.PolicyIdentifiers) > 0 || len(root.Policies) > 0 || len(root.PolicyMappings) > 0 ||
		root.RequireExplicitPolicy > 0 || root.RequireExplicitPolicyZero ||
		root.InhibitPolicyMapping > 0 || root.InhibitPolicyMappingZero ||
		root.InhibitAnyPolicy > 0 || root.InhibitAnyPolicyZero ||
		root.MaxPathLenZero || (root.MaxPathLen >= 0 && root.MaxPathLen < 1 && root.BasicConstraintsValid)
}

// Root returns the root certificate, the trust anchor clients pin. Callers
// must not modify it.
func (a *Authority) Root() *x509.Certificate { return a.root }

// Intermediate returns the issuing certificate. Callers must not modify it.
func (a *Authority) Intermediate() *x509.Certificate { return a.intermediate }

// RootPEM returns the root certificate as PEM (GET /v1/roots). The slice is a
// fresh copy.
func (a *Authority) RootPEM() []byte { return append([]byte(nil), a.rootPEM...) }

// RootFingerprint returns the hex SHA-256 of the root's DER, the value
// `certbound enroll --fingerprint` pins.
func (a *Authority) RootFingerprint() string { return a.rootFingerprint }

// TrustDomain returns the SPIFFE trust domain of this CA's leaves.
func (a *Authority) TrustDomain() string { return a.trustDomain }
