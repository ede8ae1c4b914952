package certs

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
)

// X5tS256 returns the RFC 8705 §3.1 certificate thumbprint: the base64url
// encoding, without padding, of the SHA-256 digest of the DER certificate.
// It is the value of the "x5t#S256" confirmation member of a bound token.
func X5tS256(der []byte) string {
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Fingerprint returns the lowercase hex SHA-256 of a DER certificate, the
// form `openssl x509 -fingerprint -sha256` prints (without colons) and the one
// `certbound enroll --fingerprint` pins.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}
