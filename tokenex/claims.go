package tokenex

import (
	"encoding/base64"
	"encoding/json"

	"github.com/golang-jwt/jwt/v5"
)

// Confirmation is the RFC 8705 §3.1 "cnf" claim of a certificate-bound
// token: the certificate's x5t#S256 thumbprint.
type Confirmation struct {
	X5tS256 string `json:"x5t#S256"`
}

// accessClaims is the payload of an access token (RFC 9068 §2.2). The field
// order is the wire order.
type accessClaims struct {
	Iss      string        `json:"iss"`
	Sub      string        `json:"sub"` // = client_id (RFC 9068 §2.2, client credentials)
	Aud      string        `json:"aud"` // one audience, as a string (RFC 9068 §3)
	Exp      int64         `json:"exp"`
	Nbf      int64         `json:"nbf"`
	Iat      int64         `json:"iat"`
	Jti      string        `json:"jti"`
	ClientID string        `json:"client_id"`
	Scope    string        `json:"scope"` // space-separated (RFC 8693 §4.2)
	Scp      []string      `json:"scp"`   // private: the seed's verifiers read it
	Stt      int           `json:"stt"`   // private: always 1, the seed's "token type"
	Cnf      *Confirmation `json:"cnf,omitempty"`
	// ClientGen is private: the generation of the client record the token
	// was issued to (base64url), which introspection compares with the
	// record it finds under client_id. Opaque to everyone else.
	ClientGen string `json:"client_gen,omitempty"`
}

// sign returns the compact JWS of c under k. The header segment was encoded
// once, when k was loaded; golang-jwt does the signing (for ES256 the 64-byte
// R||S form of RFC 7518 §3.4).
func (k *signingKey) sign(c *accessClaims) (string, error) {
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	buf := make([]byte, 0, len(k.header)+enc.EncodedLen(len(payload))+1+enc.EncodedLen(512))
	buf = append(buf, k.header...)
	buf = enc.AppendEncode(buf, payload)
	sig, err := k.method.Sign(string(buf), k.private)
	if err != nil {
		return "", err
	}
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig)
	return string(buf), nil
}

// parsedClaims is what introspection reads back from a token it verified.
type parsedClaims struct {
	jwt.RegisteredClaims
	ClientID  string        `json:"client_id"`
	Scope     string        `json:"scope"`
	Cnf       *Confirmation `json:"cnf"`
	ClientGen string        `json:"client_gen"`
}
