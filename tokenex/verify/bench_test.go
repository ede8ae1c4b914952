package verify_test

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"
)

// The cost target: Verify at most 1.15 × one ES256 signature check. Compare
//
//	go test -run x -bench . ./tokenex/verify/
//
// BenchmarkVerify (a bound certbound token, full checks, the peer
// certificate's thumbprint included) with BenchmarkES256VerifyFloor (a bare
// ecdsa.Verify of the same token's signature, hash and integers precomputed).

func BenchmarkVerify(b *testing.B) {
	as := newAuthServer(b, newECKey(b))
	clk := newClock()
	cert := newClientCert(b, "svc-a")
	v := newVerifier(b, as, clk, nil)
	raw := as.mint(b, clk.Now(), cert.leaf)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, raw, cert.leaf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkES256VerifyFloor(b *testing.B) {
	key := newECKey(b)
	as := newAuthServer(b, key)
	raw := as.mint(b, newClock().Now(), newClientCert(b, "svc-a").leaf)
	dot := strings.LastIndexByte(raw, '.')
	sig, err := base64.RawURLEncoding.DecodeString(raw[dot+1:])
	if err != nil || len(sig) != 64 {
		b.Fatalf("signature: %v (%d bytes)", err, len(sig))
	}
	digest := sha256.Sum256([]byte(raw[:dot]))
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	pub := key.priv.Public().(*ecdsa.PublicKey)
	b.ReportAllocs()
	for b.Loop() {
		if !ecdsa.Verify(pub, digest[:], r, s) {
			b.Fatal("signature does not verify")
		}
	}
}
