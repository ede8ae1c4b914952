package ca

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"

	"go.step.sm/crypto/pemutil"

	"github.com/certbound/certbound/certs"
)

// Material is a CA as PEM bytes rather than files: what a backend that
// shares the CA between replicas stores (the server converts it to and from
// storage.CAMaterial; this package knows nothing of storage). Keys are PKCS #8,
// encrypted with the CA password when one was given (PBES2:
// PBKDF2-HMAC-SHA256 and AES-256-CBC), exactly as Bootstrap writes them.
type Material struct {
	RootCertPEM, RootKeyPEM                 []byte
	IntermediateCertPEM, IntermediateKeyPEM []byte
}

// NewMaterial makes a new CA in memory: the same root and intermediate
// Bootstrap writes to a directory (Bootstrap is NewMaterial plus the
// files). opts.Password encrypts both keys; zero leaves them in the clear.
func NewMaterial(opts BootstrapOptions) (Material, error) {
	name := opts.Name
	if name == "" {
		name = "certbound"
	}
	m, err := newMaterial(name, opts.now(), opts.Password)
	if err != nil {
		return Material{}, fmt.Errorf("ca: new CA: %w", err)
	}
	return m, nil
}

// field returns the member of m that holds the CA file name.
func (m *Material) field(name string) *[]byte {
	switch name {
	case RootCertFile:
		return &m.RootCertPEM
	case RootKeyFile:
		return &m.RootKeyPEM
	case IntermediateCertFile:
		return &m.IntermediateCertPEM
	case IntermediateKeyFile:
		return &m.IntermediateKeyPEM
	}
	panic("ca: unknown CA file " + name)
}

// files lists m as the CA directory's files, in the order caFiles lists
// them, with their modes.
func (m *Material) files() []caFile {
	out := make([]caFile, 0, len(caFiles))
	for _, name := range caFiles {
		mode := os.FileMode(certMode)
		if name == RootKeyFile || name == IntermediateKeyFile {
			mode = keyMode
		}
		out = append(out, caFile{name, *m.field(name), mode})
	}
	return out
}

// parseSigner parses one PEM private key; name says which in errors. It
// refuses anything but exactly one PEM key block. An encrypted key needs
// password; a wrong or missing one gives ErrPassword.
func parseSigner(data []byte, name string, password []byte) (crypto.Signer, error) {
	block, rest := pem.Decode(data)
	if block == nil || len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%w: %s must hold exactly one PEM private key", ErrInconsistent, name)
	}
	encrypted := block.Type == "ENCRYPTED PRIVATE KEY" || block.Headers["Proc-Type"] == "4,ENCRYPTED"
	opts := []pemutil.Options{pemutil.WithFilename(name)}
	if encrypted {
		if len(password) == 0 {
			return nil, fmt.Errorf("%w (%s)", ErrPassword, name)
		}
		opts = append(opts, pemutil.WithPassword(password))
	}
	key, err := pemutil.ParseKey(data, opts...)
	if err != nil {
		if encrypted {
			// A wrong password shows as a padding error or, rarely, as
			// garbage that fails to parse. Either way: ErrPassword.
			return nil, fmt.Errorf("%w (%s)", ErrPassword, name)
		}
		return nil, fmt.Errorf("%w: %s: %w", ErrInconsistent, name, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: %s does not hold a private key", ErrInconsistent, name)
	}
	return signer, nil
}

// parseCertificate parses the one PEM certificate in data; name says which
// in errors.
func parseCertificate(data []byte, name string) (*x509.Certificate, error) {
	c, err := certs.ParseCertificate(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInconsistent, name, err)
	}
	return c, nil
}

// KeyEncrypted reports whether the PEM private key in data is encrypted
// (PKCS #8 PBES2 or a legacy Proc-Type header). The server refuses to store
// a CA in a shared database with keys in the clear.
func KeyEncrypted(data []byte) bool {
	block, _ := pem.Decode(data)
	return block != nil && (block.Type == "ENCRYPTED PRIVATE KEY" || block.Headers["Proc-Type"] == "4,ENCRYPTED")
}
