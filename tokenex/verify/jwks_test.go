package verify

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"strings"
	"testing"

	"github.com/certbound/certbound/certs"
	"github.com/golang-jwt/jwt/v5"
)

var b64url = base64.RawURLEncoding

// ecJWK returns the JWK of a fresh P-256 key with full-length coordinates.
func ecJWK(t testing.TB, kid string) map[string]any {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]any{
		"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
		"x": b64url.EncodeToString(k.X.FillBytes(make([]byte, 32))),
		"y": b64url.EncodeToString(k.Y.FillBytes(make([]byte, 32))),
	}
}

var testRSAKey = func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}()

func rsaJWK(kid string, bits int) map[string]any {
	k := testRSAKey
	if bits != 2048 {
		var err error
		if k, err = rsa.GenerateKey(rand.Reader, bits); err != nil {
			panic(err)
		}
	}
	return map[string]any{
		"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
		"n": b64url.EncodeToString(k.N.Bytes()),
		"e": b64url.EncodeToString(big.NewInt(int64(k.E)).Bytes()),
	}
}

func with(k map[string]any, edits ...any) map[string]any {
	out := make(map[string]any, len(k))
	for n, v := range k {
		out[n] = v
	}
	for i := 0; i+1 < len(edits); i += 2 {
		if edits[i+1] == nil {
			delete(out, edits[i].(string))
		} else {
			out[edits[i].(string)] = edits[i+1]
		}
	}
	return out
}

func jwksOf(keys ...map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"keys": keys})
	return b
}

func TestParseJWKS(t *testing.T) {
	ec := ecJWK(t, "ec")
	shortX := with(ec, "x", b64url.EncodeToString(make([]byte, 31)))
	tests := []struct {
		name     string
		doc      []byte
		wantKids []string // usable keys; nil: the document is refused
	}{
		{"accept/ec", jwksOf(ec), []string{"ec"}},
		{"accept/rsa-2048", jwksOf(rsaJWK("rsa", 2048)), []string{"rsa"}},
		{"accept/no-use-no-alg", jwksOf(with(ec, "use", nil, "alg", nil)), []string{"ec"}},
		{"accept/key-ops-verify", jwksOf(with(ec, "key_ops", []string{"verify"})), []string{"ec"}},
		{"accept/unknown-kty-skipped", jwksOf(ec, map[string]any{"kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": "AA"}), []string{"ec"}},
		{"accept/enc-key-skipped", jwksOf(ec, with(ecJWK(t, "enc"), "use", "enc")), []string{"ec"}},
		{"accept/key-ops-sign-only-skipped", jwksOf(ec, with(ecJWK(t, "s"), "key_ops", []string{"sign"})), []string{"ec"}},
		{"accept/private-member-skipped", jwksOf(ec, with(ecJWK(t, "priv"), "d", "AAAA")), []string{"ec"}},
		{"accept/symmetric-skipped", jwksOf(ec, map[string]any{"kty": "oct", "kid": "h", "k": "c2VjcmV0"}), []string{"ec"}},
		{"accept/short-coordinate-skipped", jwksOf(ec, with(shortX, "kid", "short")), []string{"ec"}},
		{"accept/p384-skipped", jwksOf(ec, with(ecJWK(t, "p384"), "crv", "P-384")), []string{"ec"}},
		{"accept/ec-with-rs256-skipped", jwksOf(ec, with(ecJWK(t, "x"), "alg", "RS256")), []string{"ec"}},
		{"accept/rsa-with-ps256-skipped", jwksOf(ec, with(rsaJWK("ps", 2048), "alg", "PS256")), []string{"ec"}},
		{"accept/rsa-1024-skipped", jwksOf(ec, rsaJWK("weak", 1024)), []string{"ec"}},
		{"accept/rsa-even-exponent-skipped", jwksOf(ec, with(rsaJWK("even", 2048), "e", "Ag")), []string{"ec"}},
		{"accept/no-kid-skipped", jwksOf(ec, with(ecJWK(t, "x"), "kid", nil)), []string{"ec"}},
		{"accept/off-curve-skipped", jwksOf(ec, with(ec, "kid", "off", "y", ec["x"])), []string{"ec"}},
		{"accept/padded-coordinate-skipped", jwksOf(ec, with(ec, "kid", "pad", "x", ec["x"].(string)+"=")), []string{"ec"}},
		{"accept/wrong-member-type-skipped", jwksOf(ec, with(ec, "kid", "typ", "x", 5)), []string{"ec"}},
		{"reject/duplicate-kid", jwksOf(ec, with(ecJWK(t, "ec"))), nil},
		{"reject/no-usable-key", jwksOf(rsaJWK("weak", 1024)), nil},
		{"reject/empty-keys", []byte(`{"keys":[]}`), nil},
		{"reject/no-keys-member", []byte(`{"issuer":"x"}`), nil},
		{"reject/keys-not-array", []byte(`{"keys":{}}`), nil},
		{"reject/not-json", []byte(`<html>`), nil},
		{"reject/array", []byte(`[]`), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := parseJWKS(tt.doc)
			if tt.wantKids == nil {
				if err == nil {
					t.Fatalf("parseJWKS() = %d keys, want an error", len(keys))
				}
				return
			}
			if err != nil {
				t.Fatalf("parseJWKS() error = %v", err)
			}
			if len(keys) != len(tt.wantKids) {
				t.Fatalf("parseJWKS() = %d keys, want %v", len(keys), tt.wantKids)
			}
			for _, kid := range tt.wantKids {
				if _, ok := keys[kid]; !ok {
					t.Errorf("key %q missing", kid)
				}
			}
		})
	}
}

// TestParseJWKSShortCoordinate: big.Int.Bytes drops leading zeros, which
// makes a JWK with a short coordinate for about 1 key in 128. Such a JWK
// breaks RFC 7518 §6.2.1.2 and is skipped; the full-length form is accepted.
func TestParseJWKSShortCoordinate(t *testing.T) {
	for range 10000 {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if len(k.X.Bytes()) == 32 {
			continue
		}
		short := map[string]any{"kty": "EC", "crv": "P-256", "kid": "short",
			"x": b64url.EncodeToString(k.X.Bytes()), "y": b64url.EncodeToString(k.Y.FillBytes(make([]byte, 32)))}
		full := with(short, "kid", "full", "x", b64url.EncodeToString(k.X.FillBytes(make([]byte, 32))))
		keys, err := parseJWKS(jwksOf(short, full))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := keys["short"]; ok {
			t.Error("a JWK with a short x coordinate was accepted")
		}
		if _, ok := keys["full"]; !ok {
			t.Error("the full-length JWK of the same key was refused")
		}
		return
	}
	t.Fatal("no key with a short x coordinate in 10000 tries")
}

func FuzzParseJWKS(f *testing.F) {
	ec := ecJWK(f, "ec")
	f.Add(jwksOf(ec))
	f.Add(jwksOf(ec, rsaJWK("rsa", 2048)))
	f.Add(jwksOf(with(ec, "d", "AA")))
	f.Add([]byte(`{"keys":[{"kty":"RSA","kid":"r","n":"AQAB","e":"AQAB"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","kid":"k","x":"","y":""}]}`))
	f.Add([]byte(`{"keys":null}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := parseJWKS(data)
		if err != nil {
			if keys != nil {
				t.Fatal("parseJWKS returned keys with an error")
			}
			return
		}
		if len(keys) == 0 {
			t.Fatal("parseJWKS accepted a set without usable keys")
		}
		for kid, k := range keys {
			if kid == "" {
				t.Fatal("key without kid accepted")
			}
			if err := certs.CheckPublicKey(k.key); err != nil {
				t.Fatalf("key outside the policy accepted: %v", err)
			}
			switch pub := k.key.(type) {
			case *ecdsa.PublicKey:
				if k.method != jwt.SigningMethodES256 || pub.Curve != elliptic.P256() {
					t.Fatalf("EC key pinned to %s on %s", k.method.Alg(), pub.Curve.Params().Name)
				}
			case *rsa.PublicKey:
				if k.method != jwt.SigningMethodRS256 {
					t.Fatalf("RSA key pinned to %s", k.method.Alg())
				}
			default:
				t.Fatalf("key of type %T accepted", pub)
			}
		}
	})
}

func FuzzParseCertificateHeader(f *testing.F) {
	f.Add("")
	f.Add(":AAAA:")
	f.Add("%2D%2D%2D%2D%2DBEGIN%20CERTIFICATE%2D%2D%2D%2D%2D%0A")
	f.Add(strings.Repeat("%", 10))
	f.Fuzz(func(t *testing.T, v string) {
		c, err := parseCertificateHeader(v)
		if err != nil && c != nil {
			t.Fatal("certificate returned with an error")
		}
	})
}

func TestNumericDate(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		set     bool
		wantErr bool
	}{
		{"1700000000", 1700000000, true, false},
		{"1700000000.9", 1700000000, true, false},
		{"1.7e9", 1700000000, true, false},
		{"-1", -1, true, false},
		{"null", 0, false, false},
		{`"1700000000"`, 0, false, true},
		{"true", 0, false, true},
		{"1e300", 0, false, true},
		{"9223372036854775807", 0, false, true},
	}
	for _, tt := range tests {
		var d numericDate
		err := d.UnmarshalJSON([]byte(tt.in))
		if (err != nil) != tt.wantErr || d.set != tt.set || d.sec != tt.want {
			t.Errorf("numericDate(%s) = %+v, %v; want sec %d set %v err %v", tt.in, d, err, tt.want, tt.set, tt.wantErr)
		}
		if err != nil && strings.Contains(err.Error(), tt.in) {
			t.Errorf("error %q quotes the input", err)
		}
	}
}
