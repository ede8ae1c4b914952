package enrollclient

import (
	"bytes"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/certbound/certbound/certs"
)

// File names inside an identity directory.
const (
	KeyFile     = "key.pem"      // private key, PKCS#8 PEM, 0600
	CertFile    = "cert.pem"     // leaf + intermediate(s), PEM
	CAFile      = "ca.pem"       // pinned root(s), PEM
	NextKeyFile = "key.pem.next" // a renewed key not yet promoted; see the package doc
)

// Identity is a loaded, consistent key + certificate chain + trust anchor.
// It is immutable once returned: share it freely, do not modify it.
type Identity struct {
	// ID is the SPIFFE ID from the leaf's single URI SAN.
	ID certs.ID
	// Certificate holds the chain (leaf first, then intermediates) and the
	// private key, ready for tls.Config; Certificate.Leaf is always set.
	Certificate tls.Certificate
	// Roots is the trust anchor pool built from ca.pem.
	Roots *x509.CertPool
	// RootCertificates are the certificates in ca.pem.
	RootCertificates []*x509.Certificate
	// Serial is the leaf's serial number in lowercase hex (certs.SerialString).
	Serial string
	// NotBefore and NotAfter bound the leaf's validity.
	NotBefore, NotAfter time.Time
	// Dir is the directory the identity lives in; empty if it was never written.
	Dir string

	certPEM []byte // cert.pem as written; lets a Renewer notice changes on disk
}

// Leaf returns the parsed leaf certificate. It has the signature the
// tokenclient Config.Certificate field wants.
func (id *Identity) Leaf() *x509.Certificate { return id.Certificate.Leaf }

// Chain returns the leaf followed by the intermediates.
func (id *Identity) Chain() []*x509.Certificate {
	out := make([]*x509.Certificate, 0, len(id.Certificate.Certificate))
	out = append(out, id.Certificate.Leaf)
	for _, der := range id.Certificate.Certificate[1:] {
		c, err := x509.ParseCertificate(der)
		if err != nil { // cannot happen: the DER was parsed when the Identity was built
			continue
		}
		out = append(out, c)
	}
	return out
}

// Load reads an identity directory written by Enroll or Renew. It refuses a
// key.pem that group or others can access, checks that the key matches the
// leaf and that the chain leads to ca.pem for client authentication. If a
// renewal was interrupted between writing cert.pem and promoting the new key
// (see the package doc), Load promotes key.pem.next and returns the new
// identity. Load does not reject an expired certificate; compare NotAfter.
func Load(dir string) (*Identity, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, CertFile))
	if err != nil {
		return nil, fmt.Errorf("enrollclient: load: %w", err)
	}
	chain, err := certs.ParseCertificates(certPEM)
	if err != nil {
		return nil, fmt.Errorf("enrollclient: load %s: %w", CertFile, err)
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, CAFile))
	if err != nil {
		return nil, fmt.Errorf("enrollclient: load: %w", err)
	}
	roots, err := certs.ParseCertificates(caPEM)
	if err != nil {
		return nil, fmt.Errorf("enrollclient: load %s: %w", CAFile, err)
	}
	key, err := loadMatchingKey(dir, chain[0])
	if err != nil {
		return nil, err
	}
	id, err := newIdentity(key, chain, roots)
	if err != nil {
		return nil, err
	}
	id.Dir = dir
	id.certPEM = certPEM
	return id, nil
}

// loadMatchingKey returns the key of leaf: key.pem, or else key.pem.next,
// which it then promotes (step 3 of the update the package doc describes).
func loadMatchingKey(dir string, leaf *x509.Certificate) (crypto.Signer, error) {
	keyPath := filepath.Join(dir, KeyFile)
	key, err := readKey(keyPath)
	if err != nil {
		return nil, err
	}
	if publicKeysEqual(key.Public(), leaf.PublicKey) {
		return key, nil
	}
	nextPath := filepath.Join(dir, NextKeyFile)
	next, nextErr := readKey(nextPath)
	if nextErr != nil || !publicKeysEqual(next.Public(), leaf.PublicKey) {
		return nil, fmt.Errorf("enrollclient: load %s: %w", dir, ErrKeyMismatch)
	}
	if err := promoteKey(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		// ErrNotExist: another process promoted it first, which is just as good.
		return nil, fmt.Errorf("enrollclient: promote %s: %w", NextKeyFile, err)
	}
	return next, nil
}

// promoteKey renames key.pem.next over key.pem and makes the rename durable.
func promoteKey(dir string) error {
	if err := os.Rename(filepath.Join(dir, NextKeyFile), filepath.Join(dir, KeyFile)); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// readKey reads a private key file after checking that it is private.
func readKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("enrollclient: load: %w", err)
	}
	if err := certs.CheckPrivate(path); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInsecureKeyFile, err)
	}
	key, err := parseKey(data)
	if err != nil {
		return nil, fmt.Errorf("enrollclient: load %s: %w", filepath.Base(path), err)
	}
	return key, nil
}

// parseKey accepts exactly one unencrypted "PRIVATE KEY" (PKCS#8) or
// "EC PRIVATE KEY" (SEC 1) block with nothing but whitespace around it. The
// error never quotes the input.
func parseKey(data []byte) (crypto.Signer, error) {
	block, rest := pem.Decode(bytes.TrimSpace(data))
	if block == nil || len(bytes.TrimSpace(rest)) != 0 || len(block.Headers) != 0 {
		return nil, ErrMalformedKey
	}
	var k any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, ErrMalformedKey
	}
	if err != nil {
		return nil, ErrMalformedKey
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, ErrMalformedKey
	}
	return signer, nil
}

// encodeKey returns key as PKCS#8 PEM.
func encodeKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}

// newIdentity checks that key, chain and roots belong together and builds an
// Identity. The chain is verified for client authentication at the middle
// of the leaf's validity: this is a consistency check of the files, while
// expiry is reported through NotAfter.
func newIdentity(key crypto.Signer, chain, roots []*x509.Certificate) (*Identity, error) {
	leaf := chain[0]
	if !publicKeysEqual(key.Public(), leaf.PublicKey) {
		return nil, ErrKeyMismatch
	}
	pool := x509.NewCertPool()
	for _, r := range roots {
		pool.AddCert(r)
	}
	if err := verifyLeaf(chain, pool, leaf.NotBefore.Add(leaf.NotAfter.Sub(leaf.NotBefore)/2)); err != nil {
		return nil, err
	}
	id, err := certs.IDFromCertificate(leaf)
	if err != nil {
		return nil, fmt.Errorf("enrollclient: leaf certificate: %w", err)
	}
	ders := make([][]byte, len(chain))
	for i, c := range chain {
		ders[i] = c.Raw
	}
	return &Identity{
		ID:               id,
		Certificate:      tls.Certificate{Certificate: ders, PrivateKey: key, Leaf: leaf},
		Roots:            pool,
		RootCertificates: roots,
		Serial:           certs.SerialString(leaf.SerialNumber),
		NotBefore:        leaf.NotBefore,
		NotAfter:         leaf.NotAfter,
		certPEM:          certs.EncodeCertificates(chain...),
	}, nil
}

// verifyLeaf checks that chain[0] chains to roots through chain[1:] and may
// be used as a TLS client certificate (an empty KeyUsages would mean
// serverAuth only).
func verifyLeaf(chain []*x509.Certificate, roots *x509.CertPool, at time.Time) error {
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	_, err := chain[0].Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		CurrentTime:   at,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUntrustedChain, err)
	}
	return nil
}

// write stores id in dir in the crash-safe order of the package doc:
// ca.pem, key.pem.next, cert.pem, then key.pem.next → key.pem. dir must exist.
func write(dir string, id *Identity) error {
	keyPEM, err := encodeKey(id.Certificate.PrivateKey.(crypto.Signer))
	if err != nil {
		return fmt.Errorf("enrollclient: encode key: %w", err)
	}
	caPEM := certs.EncodeCertificates(id.RootCertificates...)
	if old, err := os.ReadFile(filepath.Join(dir, CAFile)); err != nil || !bytes.Equal(old, caPEM) {
		if err := certs.WriteFileAtomic(filepath.Join(dir, CAFile), caPEM, 0o644); err != nil {
			return fmt.Errorf("enrollclient: write %s: %w", CAFile, err)
		}
	}
	if err := certs.WriteFileAtomic(filepath.Join(dir, NextKeyFile), keyPEM, 0o600); err != nil {
		return fmt.Errorf("enrollclient: write %s: %w", NextKeyFile, err)
	}
	if err := certs.WriteFileAtomic(filepath.Join(dir, CertFile), id.certPEM, 0o644); err != nil {
		return fmt.Errorf("enrollclient: write %s: %w", CertFile, err)
	}
	err = promoteKey(dir)
	if errors.Is(err, fs.ErrNotExist) {
		// A concurrent Load promoted key.pem.next already. Make sure key.pem is
		// ours rather than trust that.
		err = certs.WriteFileAtomic(filepath.Join(dir, KeyFile), keyPEM, 0o600)
	}
	if err != nil {
		return fmt.Errorf("enrollclient: write %s: %w", KeyFile, err)
	}
	return nil
}
