package certs

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
)

// FindPinned returns the certificate among candidates whose SHA-256 (of the
// DER, as Fingerprint prints it) is pin, or nil. Every candidate is compared
// in constant time, so the time taken does not depend on which one matched.
// The caller still checks what the certificate is (a self-signed CA, say).
func FindPinned(candidates []*x509.Certificate, pin []byte) *x509.Certificate {
	var found *x509.Certificate
	for _, c := range candidates {
		sum := sha256.Sum256(c.Raw)
		if subtle.ConstantTimeCompare(sum[:], pin) == 1 {
			found = c
		}
	}
	return found
}
