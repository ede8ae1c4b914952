package tokenex_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"go.step.sm/crypto/jose"

	"github.com/certbound/certbound/ca/catest"
	"github.com/certbound/certbound/certs"
	"github.com/certbound/certbound/tokenex"
)

// jwk is one published key, as a verifier reads it.
type jwk map[string]string

func publishedKeys(t testing.TB, doc []byte) []jwk {
	t.Helper()
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		t.Fatalf("JWKS: %v", err)
	}
	return set.Keys
}

func kids(t testing.TB, doc []byte) []string {
	var out []string
	for _, k := range publishedKeys(t, doc) {
		out = append(out, k["kid"])
	}
	return out
}

func TestJWKSShape(t *testing.T) {
	for _, alg := range []string{tokenex.ES256, tokenex.RS256} {
		t.Run("accept/"+alg, func(t *testing.T) {
			f := newFixture(t, func(c *tokenex.Config) { c.SigningAlg = alg })
			doc := f.svc.JWKS()
			keys := publishedKeys(t, doc)
			if len(keys) != 1 {
				t.Fatalf("%d keys, want 1", len(keys))
			}
			k := keys[0]
			for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
				if _, ok := k[private]; ok {
					t.Errorf("the JWKS publishes the private member %q", private)
				}
			}
			if k["use"] != "sig" || k["alg"] != alg || k["kid"] != f.svc.CurrentKeyID() {
				t.Errorf("key = %v", k)
			}
			b64len := func(s string) int {
				b, err := base64.RawURLEncoding.DecodeString(s)
				if err != nil {
					t.Fatalf("%q: %v", s, err)
				}
				return len(b)
			}
			switch alg {
			case tokenex.ES256:
				if k["kty"] != "EC" || k["crv"] != "P-256" || b64len(k["x"]) != 32 || b64len(k["y"]) != 32 || len(k) != 7 {
					t.Errorf("EC key = %v", k)
				}
			case tokenex.RS256:
				if k["kty"] != "RSA" || b64len(k["n"]) != 384 || k["e"] != "AQAB" || len(k) != 6 {
					t.Errorf("RSA key = %v", k)
				}
			}
			// kid is the RFC 7638 thumbprint, as go-jose computes it.
			var set jose.JSONWebKeySet
			if err := json.Unmarshal(doc, &set); err != nil {
				t.Fatal(err)
			}
			if tp, err := jose.Thumbprint(&set.Keys[0]); err != nil || tp != k["kid"] {
				t.Errorf("kid %s, RFC 7638 thumbprint %s (%v)", k["kid"], tp, err)
			}
			// A token signed with it verifies independently.
			_, sec := f.register(t, tokenex.ClientSpec{ClientID: "svc-p", Scope: "x", Audience: []string{"event"},
				TokenEndpointAuthMethod: tokenex.MethodClientSecretBasic})
			tok, err := f.svc.IssueToken(t.Context(), cc(basic("svc-p", sec)))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := verifyJWT(t, doc, tok.AccessToken.Reveal(), "event", f.clock.Now()); err != nil {
				t.Fatalf("verify %s token: %v", alg, err)
			}
			if in, err := f.svc.Introspect(t.Context(), tok.AccessToken); err != nil || !in.Active {
				t.Fatalf("introspect %s token: %+v, %v", alg, in, err)
			}
		})
	}
}

func TestKeysPersistAcrossRestarts(t *testing.T) {
	f := newFixture(t)
	again, err := tokenex.New(t.Context(), f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if again.CurrentKeyID() != f.svc.CurrentKeyID() {
		t.Fatalf("a restart made a new key: %s, was %s", again.CurrentKeyID(), f.svc.CurrentKeyID())
	}
	if !slices.Equal(again.JWKS(), f.svc.JWKS()) {
		t.Fatal("a restart changed the JWKS")
	}
}

func TestNewRotatesWhenAlgorithmChanges(t *testing.T) {
	f := newFixture(t)
	oldKID := f.svc.CurrentKeyID()
	cfg := f.cfg
	cfg.SigningAlg = tokenex.RS256
	rsa, err := tokenex.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := publishedKeys(t, rsa.JWKS())
	if len(got) != 2 || got[0]["alg"] != "RS256" || got[0]["kid"] != rsa.CurrentKeyID() || got[1]["kid"] != oldKID {
		t.Fatalf("JWKS after switching to RS256: %v", got)
	}
}

func TestRotation(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	_, sec := f.register(t, tokenex.ClientSpec{ClientID: "svc-p", Scope: "x", Audience: []string{"event"},
		TokenEndpointAuthMethod: tokenex.MethodClientSecretBasic, AccessTokenTTL: tokenex.MaxTokenTTL})
	issue := func() *tokenex.Token {
		t.Helper()
		tok, err := f.svc.IssueToken(ctx, cc(basic("svc-p", sec)))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	oldKID := f.svc.CurrentKeyID()
	old := issue()
	rotatedAt := f.clock.Now()
	rot, err := f.svc.RotateKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	newKID := rot.KID
	if !rot.ActiveAt.Equal(rotatedAt) {
		t.Errorf("without a delay the new key signs from %v, want now (%v)", rot.ActiveAt, rotatedAt)
	}
	if newKID == oldKID || f.svc.CurrentKeyID() != newKID {
		t.Fatalf("RotateKey = %s, current %s, old %s", newKID, f.svc.CurrentKeyID(), oldKID)
	}
	fresh := issue()
	if fresh.KeyID != newKID || old.KeyID != oldKID {
		t.Fatalf("tokens signed by %s and %s", old.KeyID, fresh.KeyID)
	}
	if got := kids(t, f.svc.JWKS()); !slices.Equal(got, []string{newKID, oldKID}) {
		t.Fatalf("JWKS kids after rotation = %v, want [new old]", got)
	}

	// Up to the old token's expiry (plus a resource server's skew) its key
	// stays published and the token verifies.
	f.clock.Advance(tokenex.MaxTokenTTL - time.Second)
	for _, tok := range []*tokenex.Token{old, fresh} {
		if _, err := verifyJWT(t, f.svc.JWKS(), tok.AccessToken.Reveal(), "event", f.clock.Now()); err != nil {
			t.Errorf("token by %s before its expiry: %v", tok.KeyID, err)
		}
	}
	if in, err := f.svc.Introspect(ctx, old.AccessToken); err != nil || !in.Active {
		t.Errorf("old-key token before expiry: %+v %v", in, err)
	}
	f.clock.Advance(time.Second + tokenex.ClockSkew - time.Second)
	if got := kids(t, f.svc.JWKS()); !slices.Contains(got, oldKID) {
		t.Errorf("old key left the JWKS within the clock skew after the last token's expiry: %v", got)
	}

	// From publish-until on, the old key is gone, without any reload.
	f.clock.Set(rotatedAt.Add(tokenex.MaxTokenTTL + tokenex.ClockSkew))
	if got := kids(t, f.svc.JWKS()); !slices.Equal(got, []string{newKID}) {
		t.Fatalf("JWKS kids after publish-until = %v, want [%s]", got, newKID)
	}
	if err := f.svc.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if got := kids(t, f.svc.JWKS()); !slices.Equal(got, []string{newKID}) {
		t.Fatalf("JWKS kids after Reload = %v", got)
	}
}

// TestReloadPicksUpRotationElsewhere: another process (here another
// Service on the same database) rotates; this one signs with the old key
// until Reload.
func TestReloadPicksUpRotationElsewhere(t *testing.T) {
	f := newFixture(t)
	other, err := tokenex.New(t.Context(), f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	before := f.svc.CurrentKeyID()
	rot, err := other.RotateKey(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	kid := rot.KID
	if f.svc.CurrentKeyID() != before {
		t.Fatal("the key changed without Reload")
	}
	if err := f.svc.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	if f.svc.CurrentKeyID() != kid || !slices.Equal(kids(t, f.svc.JWKS()), []string{kid, before}) {
		t.Fatalf("after Reload: current %s, JWKS %v; want %s", f.svc.CurrentKeyID(), kids(t, f.svc.JWKS()), kid)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	db := newFixture(t).db
	peers := catest.New(t).Authority
	tests := []struct {
		name string
		cfg  tokenex.Config
	}{
		{"reject/no-issuer", tokenex.Config{Store: db}},
		{"reject/http-issuer", tokenex.Config{Issuer: "http://localhost:8443", Store: db}},
		{"reject/issuer-trailing-slash", tokenex.Config{Issuer: "https://localhost:8443/", Store: db}},
		{"reject/issuer-query", tokenex.Config{Issuer: "https://localhost:8443?x=1", Store: db}},
		{"reject/issuer-fragment", tokenex.Config{Issuer: "https://localhost:8443#x", Store: db}},
		{"reject/no-store", tokenex.Config{Issuer: issuer}},
		{"reject/alg", tokenex.Config{Issuer: issuer, Store: db, SigningAlg: "HS256"}},
		{"reject/default-over-max", tokenex.Config{Issuer: issuer, Store: db, DefaultTokenTTL: 2 * time.Hour, MaxTokenTTL: time.Hour}},
		{"reject/trust-domain-differs-from-verifier", tokenex.Config{Issuer: issuer, Store: db, Peers: peers, TrustDomain: "other.test"}},
		{"reject/bad-trust-domain", tokenex.Config{Issuer: issuer, Store: db, TrustDomain: "Bad:Domain"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tokenex.New(context.Background(), tt.cfg); err == nil {
				t.Fatal("New accepted it")
			}
		})
	}
	t.Run("accept/issuer-with-path", func(t *testing.T) {
		s, err := tokenex.New(t.Context(), tokenex.Config{Issuer: "https://h.example/tenant", Store: db})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(s.Metadata()), `"token_endpoint":"https://h.example/tenant/oauth2/token"`) {
			t.Fatalf("metadata %s", s.Metadata())
		}
	})
}

// TestAppendixAThumbprint is the RFC 8705 Appendix A known-answer vector.
func TestAppendixAThumbprint(t *testing.T) {
	const pemText = `-----BEGIN CERTIFICATE-----
MIIBBjCBrAIBAjAKBggqhkjOPQQDAjAPMQ0wCwYDVQQDDARtdGxzMB4XDTE4MTAx
ODEyMzcwOVoXDTIyMDUwMjEyMzcwOVowDzENMAsGA1UEAwwEbXRsczBZMBMGByqG
SM49AgEGCCqGSM49AwEHA0IABNcnyxwqV6hY8QnhxxzFQ03C7HKW9OylMbnQZjjJ
/Au08/coZwxS7LfA4vOLS9WuneIXhbGGWvsDSb0tH6IxLm8wCgYIKoZIzj0EAwID
SQAwRgIhAP0RC1E+vwJD/D1AGHGzuri+hlV/PpQEKTWUVeORWz83AiEA5x2eXZOV
bUlJSGQgjwD5vaUaKlLR50Q2DmFfQj1L+SY=
-----END CERTIFICATE-----`
	c, err := certs.ParseCertificate([]byte(pemText))
	if err != nil {
		t.Fatal(err)
	}
	const want = "A4DtL2JmUMhAsvJj5tKyn64SqzmuXbMrJa0n761y5v0"
	if got := certs.X5tS256(c.Raw); got != want {
		t.Fatalf("x5t#S256 = %s, want %s", got, want)
	}
	// The token path binds with exactly this function: a secret client
	// presenting this certificate gets cnf.x5t#S256 = want.
	f := newFixture(t)
	_, sec := f.register(t, tokenex.ClientSpec{ClientID: "svc-p", Scope: "x", Audience: []string{"event"},
		TokenEndpointAuthMethod: tokenex.MethodClientSecretBasic})
	req := cc(basic("svc-p", sec))
	req.PeerChain = chainOf(t, c.Raw)
	tok, err := f.svc.IssueToken(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	in, err := f.svc.Introspect(t.Context(), tok.AccessToken)
	if err != nil || in.Cnf == nil || in.Cnf.X5tS256 != want {
		t.Fatalf("introspected cnf = %+v (%v), want %s", in.Cnf, err, want)
	}
}

func TestMetadata(t *testing.T) {
	f := newFixture(t)
	var md map[string]any
	if err := json.Unmarshal(f.svc.Metadata(), &md); err != nil {
		t.Fatal(err)
	}
	methods := []any{"tls_client_auth", "self_signed_tls_client_auth", "client_secret_basic", "client_secret_post"}
	want := map[string]any{
		"issuer":                                issuer,
		"token_endpoint":                        issuer + "/oauth2/token",
		"jwks_uri":                              issuer + "/.well-known/jwks.json",
		"introspection_endpoint":                issuer + "/oauth2/introspect",
		"grant_types_supported":                 []any{"client_credentials"},
		"token_endpoint_auth_methods_supported": methods,
		"introspection_endpoint_auth_methods_supported": methods,
		"tls_client_certificate_bound_access_tokens":    true,
		"mtls_endpoint_aliases": map[string]any{
			"token_endpoint":         issuer + "/oauth2/token",
			"introspection_endpoint": issuer + "/oauth2/introspect",
		},
	}
	gotJSON, _ := json.Marshal(md)
	wantJSON, _ := json.Marshal(want)
	if string(gotJSON) != string(wantJSON) {
		t.Fatalf("metadata\n got %s\nwant %s", gotJSON, wantJSON)
	}
	if strings.Contains(string(f.svc.Metadata()), "[]") || strings.Contains(string(f.svc.Metadata()), "response_types_supported") {
		t.Fatal("metadata has an empty list or response_types_supported")
	}
	// issuer is byte-identical to the tokens' iss.
	_, sec := f.register(t, tokenex.ClientSpec{ClientID: "svc-p", Scope: "x", Audience: []string{"event"},
		TokenEndpointAuthMethod: tokenex.MethodClientSecretBasic})
	tok, err := f.svc.IssueToken(t.Context(), cc(basic("svc-p", sec)))
	if err != nil {
		t.Fatal(err)
	}
	if iss := decodeSegment(t, tok.AccessToken.Reveal(), 1)["iss"]; iss != md["issuer"] {
		t.Fatalf("iss %v, metadata issuer %v", iss, md["issuer"])
	}
}

func TestErrorsCompare(t *testing.T) {
	err := error(&tokenex.Error{Code: tokenex.CodeInvalidScope, Description: "x"})
	if !errors.Is(err, tokenex.ErrInvalidScope) || errors.Is(err, tokenex.ErrInvalidTarget) {
		t.Fatal("errors.Is does not match on Code")
	}
}
