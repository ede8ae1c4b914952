package tokenex

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"testing"

	"go.step.sm/crypto/jose"
)

// TestJWKFullLengthCoordinates generates P-256 keys until one has an X or Y
// coordinate with a leading zero byte (about 1 in 128), which big.Int.Bytes
// would shorten, and checks that its JWK still carries 32-byte coordinates
// (RFC 7518 §6.2.1.2) that go-jose accepts, and that the kid is the RFC 7638
// thumbprint go-jose computes.
func TestJWKFullLengthCoordinates(t *testing.T) {
	for i := 0; ; i++ {
		if i == 10000 {
			t.Fatal("no short coordinate in 10000 keys")
		}
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		pt, _ := k.PublicKey.Bytes()
		if pt[1] != 0 && pt[33] != 0 {
			continue
		}
		doc, kid, err := publicJWK(&k.PublicKey, "k", ES256)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]string
		if err := json.Unmarshal(doc, &m); err != nil {
			t.Fatal(err)
		}
		for _, c := range []string{"x", "y"} {
			if b, err := base64.RawURLEncoding.DecodeString(m[c]); err != nil || len(b) != 32 {
				t.Fatalf("%s is %d bytes, want 32", c, len(b))
			}
		}
		var parsed jose.JSONWebKey
		if err := parsed.UnmarshalJSON(doc); err != nil {
			t.Fatalf("go-jose refuses the JWK: %v", err)
		}
		if want, err := jose.Thumbprint(&parsed); err != nil || kid != want {
			t.Fatalf("kid %s, RFC 7638 thumbprint %s (%v)", kid, want, err)
		}
		return
	}
}
