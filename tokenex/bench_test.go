package tokenex_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/certbound/certbound/tokenex"
)

// BenchmarkIssueToken measures the whole token path with real SQLite reads:
// client lookup, authentication, policy, claims and the ES256 signature.
// Compare with BenchmarkES256SignFloor.
func BenchmarkIssueToken(b *testing.B) {
	w := newWorld(b)
	for _, bm := range []struct {
		name string
		req  tokenex.TokenRequest
	}{
		{"client_secret_basic", cc(basic("svc-p", w.secretP))},
		{"client_secret_basic_bound", with(cc(basic("svc-p", w.secretP)), func(r *tokenex.TokenRequest) { r.PeerChain = w.certU })},
		{"tls_client_auth", cc(mtls("svc-a", w.certA))},
		{"self_signed_tls_client_auth", cc(mtls("svc-s", w.certS))},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := w.svc.IssueToken(b.Context(), bm.req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("client_secret_basic_parallel", func(b *testing.B) {
		req := cc(basic("svc-p", w.secretP))
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := w.svc.IssueToken(b.Context(), req); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkES256SignFloor is the cost nothing in IssueToken can avoid: one
// golang-jwt ES256 signature over a token-sized signing input.
func BenchmarkES256SignFloor(b *testing.B) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, 420)
	input := base64.RawURLEncoding.EncodeToString(make([]byte, 80)) + "." + base64.RawURLEncoding.EncodeToString(payload)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := jwt.SigningMethodES256.Sign(input, key); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIntrospect(b *testing.B) {
	w := newWorld(b)
	tok, err := w.svc.IssueToken(b.Context(), cc(mtls("svc-a", w.certA)))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if in, err := w.svc.Introspect(b.Context(), tok.AccessToken); err != nil || !in.Active {
			b.Fatal(in, err)
		}
	}
}

func BenchmarkJWKS(b *testing.B) {
	f := newFixture(b)
	b.ReportAllocs()
	for b.Loop() {
		_ = f.svc.JWKS()
	}
}
