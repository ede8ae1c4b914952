package verify

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"

	"github.com/certbound/certbound/certs"
	"github.com/golang-jwt/jwt/v5"
)

// publicKey is a verification key from the JWKS with the one algorithm it is
// pinned to. Tokens never choose the algorithm; their "alg" must equal this.
type publicKey struct {
	method jwt.SigningMethod // jwt.SigningMethodES256 or jwt.SigningMethodRS256
	key    crypto.PublicKey  // *ecdsa.PublicKey (P-256) or *rsa.PublicKey
}

// jwk holds the members of a JWK that matter here (RFC 7517 §4, RFC 7518 §6).
type jwk struct {
	Kty    string   `json:"kty"`
	Kid    string   `json:"kid"`
	Use    string   `json:"use"`
	Alg    string   `json:"alg"`
	KeyOps []string `json:"key_ops"`
	Crv    string   `json:"crv"`
	X      string   `json:"x"`
	Y      string   `json:"y"`
	N      string   `json:"n"`
	E      string   `json:"e"`
	// Private and symmetric members. A published key that carries one is
	// compromised, so it is not trusted.
	D  json.RawMessage `json:"d"`
	P  json.RawMessage `json:"p"`
	Q  json.RawMessage `json:"q"`
	DP json.RawMessage `json:"dp"`
	DQ json.RawMessage `json:"dq"`
	QI json.RawMessage `json:"qi"`
	K  json.RawMessage `json:"k"`
}

// parseJWKS parses a JWK Set (RFC 7517 §5) into verification keys by "kid".
//
// Keys it cannot use are skipped, as RFC 7517 §5 asks for unknown "kty"
// values: keys for encryption ("use" other than "sig", or "key_ops" without
// "verify"), curves other than P-256, algorithms other than ES256 and RS256 or
// not matching the key type, keys without "kid", EC coordinates that are not
// the full 32 bytes (RFC 7518 §6.2.1.2), points off the curve, RSA keys
// outside certs.CheckPublicKey, and keys that carry private members.
// The document as a whole is refused if it is not a JSON object with a "keys"
// array, if two usable keys share a "kid" (the lookup would be ambiguous), or
// if no usable key is left.
func parseJWKS(data []byte) (map[string]publicKey, error) {
	var set struct {
		Keys *[]json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, errors.New("not a JSON object with a keys array")
	}
	if set.Keys == nil {
		return nil, errors.New(`no "keys" member`)
	}
	keys := make(map[string]publicKey, len(*set.Keys))
	for _, raw := range *set.Keys {
		var k jwk
		if err := json.Unmarshal(raw, &k); err != nil {
			continue
		}
		pk, ok := k.publicKey()
		if !ok {
			continue
		}
		if _, dup := keys[k.Kid]; dup {
			return nil, fmt.Errorf("two keys share a kid")
		}
		keys[k.Kid] = pk
	}
	if len(keys) == 0 {
		return nil, errors.New("no usable ES256 or RS256 signing key")
	}
	return keys, nil
}

// publicKey returns the verification key k describes, or false if k is not a
// usable signing key.
func (k *jwk) publicKey() (publicKey, bool) {
	if k.Kid == "" || (k.Use != "" && k.Use != "sig") {
		return publicKey{}, false
	}
	if k.KeyOps != nil && !slices.Contains(k.KeyOps, "verify") {
		return publicKey{}, false
	}
	if k.D != nil || k.P != nil || k.Q != nil || k.DP != nil || k.DQ != nil || k.QI != nil || k.K != nil {
		return publicKey{}, false
	}
	switch k.Kty {
	case "EC":
		if k.Crv != "P-256" || (k.Alg != "" && k.Alg != "ES256") {
			return publicKey{}, false
		}
		x, errX := b64.DecodeString(k.X)
		y, errY := b64.DecodeString(k.Y)
		if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
			return publicKey{}, false
		}
		point := make([]byte, 0, 65)
		point = append(append(append(point, 4), x...), y...) // SEC 1 uncompressed
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
		if err != nil {
			return publicKey{}, false
		}
		return publicKey{method: jwt.SigningMethodES256, key: pub}, true
	case "RSA":
		if k.Alg != "" && k.Alg != "RS256" {
			return publicKey{}, false
		}
		n, errN := b64.DecodeString(k.N)
		e, errE := b64.DecodeString(k.E)
		if errN != nil || errE != nil || len(e) == 0 || len(e) > 4 || len(n) > certs.MaxRSABits/8+1 {
			return publicKey{}, false
		}
		exp := 0
		for _, b := range e {
			exp = exp<<8 | int(b)
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: exp}
		if certs.CheckPublicKey(pub) != nil {
			return publicKey{}, false
		}
		return publicKey{method: jwt.SigningMethodRS256, key: pub}, true
	}
	return publicKey{}, false
}
