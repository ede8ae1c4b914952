package ca

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"

	"go.step.sm/crypto/pemutil"

	"github.com/certbound/certbound/certs"
)

// Files in the CA directory (the server passes <data-dir>/ca).
const (
	RootCertFile         = "root.crt"
	RootKeyFile          = "root.key"
	IntermediateCertFile = "intermediate.crt"
	IntermediateKeyFile  = "intermediate.key"
)

// caFiles lists every file of a CA directory, in the order Bootstrap writes
// them.
var caFiles = [...]string{RootKeyFile, RootCertFile, IntermediateKeyFile, IntermediateCertFile}

// Modes of the files Bootstrap writes.
const (
	dirMode  = 0o700
	keyMode  = 0o600
	certMode = 0o644
)

// encodeKey serialises a private key as PKCS #8 PEM. With a password it is
// encrypted (PBES2: PBKDF2-HMAC-SHA256 and AES-256-CBC), which OpenSSL and
// step read too; without one it is a plain "PRIVATE KEY" block.
func encodeKey(key crypto.Signer, password []byte) ([]byte, error) {
	opts := []pemutil.Options{pemutil.WithPKCS8(true)}
	if len(password) > 0 {
		opts = append(opts, pemutil.WithPassword(password))
	}
	block, err := pemutil.Serialize(key, opts...)
	if err != nil {
		return nil, fmt.Errorf("ca: encode private key: %w", err)
	}
	return pem.EncodeToMemory(block), nil
}

// readSigner loads the private key at path. It refuses a file that group or
// others can access, and a file holding anything but one PEM key block. An
// encrypted key needs password; a wrong or missing one gives ErrPassword.
func readSigner(path string, password []byte) (crypto.Signer, error) {
	if err := certs.CheckPrivate(path); err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	return parseSigner(data, filepath.Base(path), password)
}

// readCertificate loads the one PEM certificate at path.
func readCertificate(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	return parseCertificate(data, filepath.Base(path))
}
