package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/asn1"
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

// Algorithm OIDs of SubjectPublicKeyInfo (RFC 5480, RFC 8410, RFC 8017).
var (
	oidPublicKeyEC      = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidPublicKeyRSA     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidPublicKeyEd25519 = asn1.ObjectIdentifier{1, 3, 101, 112}
)

// unsupportedKeyIn looks at the public key algorithm of a DER CSR that
// crypto/x509 could not parse and returns a *KeyError when the key type is
// the reason, or nil when the CSR is broken in some other way.
func unsupportedKeyIn(der []byte) error {
	var csr struct {
		Info struct {
			Version int
			Subject asn1.RawValue
			SPKI    struct {
				Algorithm struct {
					OID    asn1.ObjectIdentifier
					Params asn1.RawValue `asn1:"optional"`
				}
				Key asn1.BitString
			}
			Rest asn1.RawValue `asn1:"optional,tag:0"`
		}
		SigAlg asn1.RawValue
		Sig    asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &csr); err != nil {
		return nil
	}
	alg := csr.Info.SPKI.Algorithm
	switch {
	case alg.OID.Equal(oidPublicKeyEC):
		var curve asn1.ObjectIdentifier
		if _, err := asn1.Unmarshal(alg.Params.FullBytes, &curve); err != nil {
			return nil
		}
		return &KeyError{Reason: fmt.Sprintf("ECDSA curve %s; P-256 and P-384 are accepted", curve)}
	case alg.OID.Equal(oidPublicKeyRSA), alg.OID.Equal(oidPublicKeyEd25519):
		return nil // a supported type that failed to parse: malformed
	}
	return &KeyError{Reason: fmt.Sprintf("key algorithm %s; ECDSA P-256/P-384, Ed25519 and RSA 2048-8192 are accepted", alg.OID)}
}
