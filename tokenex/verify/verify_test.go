package verify_test

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/certbound/certbound/certs"
	"github.com/certbound/certbound/tokenex/verify"
	"github.com/golang-jwt/jwt/v5"
)

func TestVerify(t *testing.T) {
	ecKey, rsaKey := newECKey(t), newRSAKey(t)
	as := newAuthServer(t, ecKey)
	as.publish(rsaKey)
	c := newClock()
	now := c.Now()
	certA, certB := newClientCert(t, "svc-a"), newClientCert(t, "svc-b")
	strict := newVerifier(t, as, c, nil)
	lenient := newVerifier(t, as, c, func(cfg *verify.Config) { cfg.AllowUnbound = true })
	ecPKIX, err := x509.MarshalPKIXPublicKey(ecKey.priv.Public())
	if err != nil {
		t.Fatal(err)
	}

	// bound returns a token bound to certA after edit changed it.
	bound := func(edit func(*token)) func(t *testing.T) string {
		return func(t *testing.T) string {
			tok := as.newToken(now, certA.leaf)
			if edit != nil {
				edit(tok)
			}
			return as.sign(t, tok)
		}
	}
	unbound := func(t *testing.T) string { return as.mint(t, now, nil) }
	claim := func(name string, value any) func(*token) {
		return func(tok *token) {
			if value == nil {
				delete(tok.claims, name)
			} else {
				tok.claims[name] = value
			}
		}
	}
	header := func(name string, value any) func(*token) {
		return func(tok *token) {
			if value == nil {
				delete(tok.header, name)
			} else {
				tok.header[name] = value
			}
		}
	}

	tests := []struct {
		name     string
		verifier *verify.Verifier
		token    func(t *testing.T) string
		peer     *x509.Certificate
		wantErr  error // nil: accepted
	}{
		{"accept/bound-matching-peer", strict, bound(nil), certA.leaf, nil},
		{"accept/unbound-with-AllowUnbound", lenient, unbound, nil, nil},
		{"accept/bound-with-AllowUnbound-still-checked", lenient, bound(nil), certA.leaf, nil},
		{"accept/typ-application-at+jwt", strict, bound(header("typ", "application/at+jwt")), certA.leaf, nil},
		{"accept/typ-mixed-case", strict, bound(header("typ", "AT+JWT")), certA.leaf, nil},
		{"accept/aud-array", strict, bound(claim("aud", []string{"billing", "event"})), certA.leaf, nil},
		{"accept/exp-passed-within-leeway", strict, bound(claim("exp", now.Add(-30*time.Second).Unix())), certA.leaf, nil},
		{"accept/nbf-future-within-leeway", strict, bound(claim("nbf", now.Add(30*time.Second).Unix())), certA.leaf, nil},
		{"accept/no-nbf", strict, bound(claim("nbf", nil)), certA.leaf, nil},
		{"accept/fractional-dates", strict, bound(claim("exp", float64(now.Add(time.Hour).Unix())+0.5)), certA.leaf, nil},
		{"accept/scp-only", strict, bound(claim("scope", nil)), certA.leaf, nil},
		{"accept/rs256-key", strict, func(t *testing.T) string {
			tok := as.newToken(now, certA.leaf)
			tok.header["alg"], tok.header["kid"] = "RS256", rsaKey.kid
			return signWith(t, tok, jwt.SigningMethodRS256, rsaKey.priv)
		}, certA.leaf, nil},

		{"reject/replayed-with-other-cert", strict, bound(nil), certB.leaf, verify.ErrBindingMismatch},
		{"reject/replayed-without-cert", strict, bound(nil), nil, verify.ErrCertificateRequired},
		{"reject/unbound-without-AllowUnbound", strict, unbound, certA.leaf, verify.ErrUnbound},
		{"reject/x5t-padded", strict, bound(claim("cnf", map[string]any{"x5t#S256": certs.X5tS256(certA.leaf.Raw) + "="})), certA.leaf, verify.ErrBindingMismatch},
		{"reject/x5t-of-spki", strict, bound(claim("cnf", map[string]any{"x5t#S256": certs.X5tS256(certA.leaf.RawSubjectPublicKeyInfo)})), certA.leaf, verify.ErrBindingMismatch},
		{"reject/cnf-jkt-only", lenient, bound(claim("cnf", map[string]any{"jkt": "abc"})), certA.leaf, verify.ErrBindingMethod},
		{"reject/cnf-x5t-and-jkt", strict, bound(claim("cnf", map[string]any{"x5t#S256": certs.X5tS256(certA.leaf.Raw), "jkt": "abc"})), certA.leaf, verify.ErrBindingMethod},
		{"reject/cnf-empty", lenient, bound(claim("cnf", map[string]any{})), certA.leaf, verify.ErrBindingMethod},
		{"reject/cnf-not-object", strict, bound(claim("cnf", "x")), certA.leaf, verify.ErrMalformed},

		{"reject/alg-none", strict, func(t *testing.T) string {
			tok := as.newToken(now, certA.leaf)
			tok.header["alg"] = "none"
			return signWith(t, tok, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType)
		}, certA.leaf, verify.ErrAlgorithm},
		{"reject/hs256-with-public-key-as-secret", strict, func(t *testing.T) string {
			tok := as.newToken(now, certA.leaf)
			tok.header["alg"] = "HS256"
			return signWith(t, tok, jwt.SigningMethodHS256, ecPKIX)
		}, certA.leaf, verify.ErrAlgorithm},
		{"reject/rs256-header-on-ec-key", strict, func(t *testing.T) string {
			tok := as.newToken(now, certA.leaf)
			tok.header["alg"] = "RS256" // kid still names the EC key
			return signWith(t, tok, jwt.SigningMethodRS256, rsaKey.priv)
		}, certA.leaf, verify.ErrAlgorithm},
		{"reject/es256-header-on-rsa-key", strict, func(t *testing.T) string {
			tok := as.newToken(now, certA.leaf)
			tok.header["kid"] = rsaKey.kid
			return signWith(t, tok, jwt.SigningMethodES256, ecKey.priv)
		}, certA.leaf, verify.ErrAlgorithm},
		{"reject/ps256", strict, func(t *testing.T) string {
			tok := as.newToken(now, certA.leaf)
			tok.header["alg"], tok.header["kid"] = "PS256", rsaKey.kid
			return signWith(t, tok, jwt.SigningMethodPS256, rsaKey.priv)
		}, certA.leaf, verify.ErrAlgorithm},
		{"reject/alg-missing", strict, bound(header("alg", nil)), certA.leaf, verify.ErrAlgorithm},
		{"reject/unknown-kid", strict, bound(header("kid", "no-such-key")), certA.leaf, verify.ErrUnknownKey},
		{"reject/missing-kid", strict, bound(header("kid", nil)), certA.leaf, verify.ErrNoKeyID},
		{"reject/kid-not-string", strict, bound(header("kid", 7)), certA.leaf, verify.ErrNoKeyID},
		{"reject/signed-by-unpublished-key", strict, func(t *testing.T) string {
			other := newECKey(t)
			return signWith(t, as.newToken(now, certA.leaf), jwt.SigningMethodES256, other.priv)
		}, certA.leaf, verify.ErrSignature},
		{"reject/tampered-payload", strict, func(t *testing.T) string {
			tok := as.newToken(now, certA.leaf)
			raw := as.sign(t, tok)
			tok.claims["scope"] = "event.create event.read event.admin"
			payload, _ := json.Marshal(tok.claims)
			return segment(raw, 1, payload)
		}, certA.leaf, verify.ErrSignature},
		{"reject/tampered-header", strict, func(t *testing.T) string {
			tok := as.newToken(now, certA.leaf)
			raw := as.sign(t, tok)
			tok.header["x"] = "y"
			h, _ := json.Marshal(tok.header)
			return segment(raw, 0, h)
		}, certA.leaf, verify.ErrSignature},
		{"reject/signature-zeroed", strict, func(t *testing.T) string {
			return segment(as.mint(t, now, certA.leaf), 2, make([]byte, 64))
		}, certA.leaf, verify.ErrSignature},
		{"reject/signature-short", strict, func(t *testing.T) string {
			return segment(as.mint(t, now, certA.leaf), 2, make([]byte, 63))
		}, certA.leaf, verify.ErrSignature},
		{"reject/signature-not-base64url", strict, func(t *testing.T) string {
			return as.mint(t, now, certA.leaf) + "+"
		}, certA.leaf, verify.ErrMalformed},
		{"reject/crit-header", strict, bound(header("crit", []string{"exp"})), certA.leaf, verify.ErrMalformed},

		{"reject/typ-JWT", strict, bound(header("typ", "JWT")), certA.leaf, verify.ErrType},
		{"reject/typ-missing", strict, bound(header("typ", nil)), certA.leaf, verify.ErrType},
		{"reject/typ-with-parameter", strict, bound(header("typ", "at+jwt;x")), certA.leaf, verify.ErrType},

		{"reject/wrong-iss", strict, bound(claim("iss", "https://evil.example")), certA.leaf, verify.ErrIssuer},
		{"reject/iss-trailing-slash", strict, bound(claim("iss", as.URL()+"/")), certA.leaf, verify.ErrIssuer},
		{"reject/wrong-aud", strict, bound(claim("aud", []string{"billing"})), certA.leaf, verify.ErrAudience},
		{"reject/aud-missing", strict, bound(claim("aud", nil)), certA.leaf, verify.ErrAudience},
		{"reject/aud-wrong-case", strict, bound(claim("aud", "Event")), certA.leaf, verify.ErrAudience},
		{"reject/expired", strict, bound(claim("exp", now.Add(-120*time.Second).Unix())), certA.leaf, verify.ErrExpired},
		{"reject/nbf-future-beyond-leeway", strict, bound(claim("nbf", now.Add(120*time.Second).Unix())), certA.leaf, verify.ErrNotYetValid},
		{"reject/iat-future-beyond-leeway", strict, bound(claim("iat", now.Add(120*time.Second).Unix())), certA.leaf, verify.ErrNotYetValid},
		{"reject/exp-string", strict, bound(claim("exp", "2099-01-01")), certA.leaf, verify.ErrMalformed},
		{"reject/exp-missing", strict, bound(claim("exp", nil)), certA.leaf, verify.ErrMissingClaim},
		{"reject/iat-missing", strict, bound(claim("iat", nil)), certA.leaf, verify.ErrMissingClaim},
		{"reject/sub-missing", strict, bound(claim("sub", nil)), certA.leaf, verify.ErrMissingClaim},
		{"reject/client_id-missing", strict, bound(claim("client_id", nil)), certA.leaf, verify.ErrMissingClaim},
		{"reject/jti-missing", strict, bound(claim("jti", nil)), certA.leaf, verify.ErrMissingClaim},
		{"reject/scope-and-scp-disagree", strict, bound(claim("scp", []string{"event.admin"})), certA.leaf, verify.ErrMalformed},
		{"reject/scope-array", strict, bound(claim("scope", []string{"event.create"})), certA.leaf, verify.ErrMalformed},

		{"reject/empty", strict, func(*testing.T) string { return "" }, certA.leaf, verify.ErrNoToken},
		{"reject/not-a-jws", strict, func(*testing.T) string { return "not.a.jwt" }, certA.leaf, verify.ErrMalformed},
		{"reject/four-segments", strict, func(t *testing.T) string { return as.mint(t, now, certA.leaf) + ".x" }, certA.leaf, verify.ErrMalformed},
		{"reject/oversized", strict, func(*testing.T) string { return strings.Repeat("a", verify.MaxTokenBytes+1) }, certA.leaf, verify.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := tt.token(t)
			got, err := tt.verifier.Verify(t.Context(), raw, tt.peer)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Verify() error = %v, want nil", err)
				}
				if got.Subject != "svc-a" || got.ClientID != "svc-a" || !got.HasScope("event.create") {
					t.Errorf("Verify() claims = %+v, want sub and client_id svc-a with event.create", got)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Verify() error = %v, want %v", err, tt.wantErr)
			}
			if got != nil {
				t.Errorf("Verify() returned claims with error %v", err)
			}
			var ve *verify.Error
			if !errors.As(err, &ve) {
				t.Fatalf("Verify() error %T is not *verify.Error", err)
			}
			wantCode := verify.CodeInvalidToken
			if tt.wantErr == verify.ErrNoToken {
				wantCode = verify.CodeUnauthorized
			}
			if ve.Code != wantCode {
				t.Errorf("Code = %q, want %q", ve.Code, wantCode)
			}
			if raw != "" && strings.Contains(err.Error(), raw) {
				t.Errorf("error %q quotes the token", err)
			}
		})
	}
}

// TestVerifyClaims checks that the returned claims are the token's.
func TestVerifyClaims(t *testing.T) {
	as := newAuthServer(t, newECKey(t))
	c := newClock()
	certA := newClientCert(t, "svc-a")
	v := newVerifier(t, as, c, nil)
	tok := as.newToken(c.Now(), certA.leaf)
	tok.claims["aud"] = []string{"event", "billing"}
	got, err := v.Verify(t.Context(), as.sign(t, tok), certA.leaf)
	if err != nil {
		t.Fatal(err)
	}
	want := verify.Claims{
		Issuer:     as.URL(),
		Subject:    "svc-a",
		ClientID:   "svc-a",
		Audience:   []string{"event", "billing"},
		Scopes:     []string{"event.create", "event.read"},
		IssuedAt:   t0.Add(-10 * time.Second),
		NotBefore:  t0.Add(-10 * time.Second),
		Expiry:     t0.Add(time.Hour),
		ID:         tok.claims["jti"].(string),
		Thumbprint: certs.X5tS256(certA.leaf.Raw),
	}
	if !equalClaims(got, &want) {
		t.Errorf("Verify() claims = %+v\nwant %+v", got, &want)
	}
	if got.HasScope("event.admin") || got.HasScope("EVENT.CREATE") {
		t.Errorf("HasScope accepts a scope the token does not grant")
	}
}

func equalClaims(a, b *verify.Claims) bool {
	return a.Issuer == b.Issuer && a.Subject == b.Subject && a.ClientID == b.ClientID &&
		strings.Join(a.Audience, " ") == strings.Join(b.Audience, " ") &&
		strings.Join(a.Scopes, " ") == strings.Join(b.Scopes, " ") &&
		a.IssuedAt.Equal(b.IssuedAt) && a.NotBefore.Equal(b.NotBefore) && a.Expiry.Equal(b.Expiry) &&
		a.ID == b.ID && a.Thumbprint == b.Thumbprint
}

// TestVerifyCertificateRotation: a bound token dies with its certificate
// (RFC 8705 §6.3), even when the renewed certificate keeps the subject.
func TestVerifyCertificateRotation(t *testing.T) {
	as := newAuthServer(t, newECKey(t))
	c := newClock()
	v := newVerifier(t, as, c, nil)
	certA, certA2 := newClientCert(t, "svc-a"), newClientCert(t, "svc-a")
	old := as.mint(t, c.Now(), certA.leaf)
	if _, err := v.Verify(t.Context(), old, certA2.leaf); !errors.Is(err, verify.ErrBindingMismatch) {
		t.Fatalf("old token with renewed certificate: error = %v, want ErrBindingMismatch", err)
	}
	if _, err := v.Verify(t.Context(), as.mint(t, c.Now(), certA2.leaf), certA2.leaf); err != nil {
		t.Fatalf("new token with renewed certificate: %v", err)
	}
}
