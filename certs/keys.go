package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"
)

// RSA modulus sizes accepted in a CSR. Below 2048 bits is broken (NIST SP
// 800-131A); above 8192 only costs the verifier time without buying strength.
const (
	MinRSABits = 2048
	MaxRSABits = 8192
)

// CheckPublicKey enforces certbound's key policy (SPEC §2): ECDSA P-256 or
// P-384, Ed25519, or RSA with 2048 to 8192 bits. Anything else returns a
// *KeyError that wraps ErrUnsupportedKey.
func CheckPublicKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384():
			return nil
		}
		return &KeyError{Reason: fmt.Sprintf("ECDSA curve %s; P-256 and P-384 are accepted", k.Curve.Params().Name)}
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return &KeyError{Reason: "Ed25519 key of the wrong length"}
		}
		return nil
	case *rsa.PublicKey:
		bits := k.N.BitLen()
		if bits < MinRSABits || bits > MaxRSABits {
			return &KeyError{Reason: fmt.Sprintf("RSA key of %d bits; %d to %d are accepted", bits, MinRSABits, MaxRSABits)}
		}
		if k.E < 3 || k.E%2 == 0 {
			return &KeyError{Reason: "RSA public exponent must be odd and at least 3"}
		}
		return nil
	default:
		return &KeyError{Reason: fmt.Sprintf("key type %T; ECDSA P-256/P-384, Ed25519 and RSA 2048-8192 are accepted", pub)}
	}
}

// IsRSA reports whether pub is an RSA key. The leaf profile adds
// keyEncipherment for RSA keys only (RFC 5280 §4.2.1.3, SPIFFE X509-SVID §4.3).
func IsRSA(pub crypto.PublicKey) bool {
	_, ok := pub.(*rsa.PublicKey)
	return ok
}
