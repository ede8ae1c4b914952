package tokenex_test

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/certbound/certbound/certs"
	"github.com/certbound/certbound/certs/secret"
	"github.com/certbound/certbound/storage"
	"github.com/certbound/certbound/tokenex"
)

// recordCertificate stores leaf in the database as certbound's enrollment
// would, so that revocation in storage applies to it.
func recordCertificate(t testing.TB, db storage.Store, leaf *x509.Certificate, clientID string, now time.Time) {
	t.Helper()
	ctx := context.Background()
	tok := secret.New("test_")
	if err := db.InsertEnrollToken(ctx, storage.EnrollToken{Hash: tok.Hash(), ClientID: clientID, CreatedAt: now,
		ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	_, err := db.RedeemEnrollToken(ctx, tok.Hash(), now, func(storage.EnrollToken, storage.Client) (storage.Certificate, error) {
		return storage.Certificate{Serial: certs.SerialString(leaf.SerialNumber), ClientID: clientID,
			Fingerprint: certs.Fingerprint(leaf.Raw), NotBefore: leaf.NotBefore, NotAfter: leaf.NotAfter, CreatedAt: now}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// currentKey reads the current signing key from storage, to forge tokens
// that differ from real ones in exactly one way.
func currentKey(t testing.TB, db storage.Store, now time.Time) (kid string, key crypto.Signer) {
	t.Helper()
	keys, err := db.SigningKeys(context.Background(), now)
	if err != nil || len(keys) == 0 {
		t.Fatalf("signing keys: %v", err)
	}
	block, _ := pem.Decode([]byte(keys[0].PrivatePEM))
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return keys[0].KID, k.(crypto.Signer)
}

func TestIntrospect(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	now := w.clock.Now()
	recordCertificate(t, w.db, w.certA[0], "svc-a", now)
	recordCertificate(t, w.db, w.certA2[0], "svc-a", now)

	issue := func(r tokenex.TokenRequest) *tokenex.Token {
		t.Helper()
		tok, err := w.svc.IssueToken(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	bound := issue(cc(mtls("svc-a", w.certA)))
	bound2 := issue(cc(mtls("svc-a", w.certA2)))
	unbound := issue(cc(basic("svc-p", w.secretP)))
	selfSigned := issue(cc(mtls("svc-s", w.certS)))
	toDisable := issue(cc(post("svc-q", w.secretQ)))

	// Forgeries signed with the real current key, each breaking one rule.
	kid, key := currentKey(t, w.db, now)
	base := jwt.MapClaims{"iss": issuer, "sub": "svc-p", "client_id": "svc-p", "aud": "event", "scope": "event.read",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": "abcdefghijklmnopqrstuv"}
	forge := func(method jwt.SigningMethod, header map[string]any, edit func(jwt.MapClaims), signKey any) secret.Secret {
		t.Helper()
		c := jwt.MapClaims{}
		for k, v := range base {
			c[k] = v
		}
		if edit != nil {
			edit(c)
		}
		tk := jwt.NewWithClaims(method, c)
		tk.Header["typ"], tk.Header["kid"] = "at+jwt", kid
		for k, v := range header {
			tk.Header[k] = v
		}
		s, err := tk.SignedString(signKey)
		if err != nil {
			t.Fatal(err)
		}
		return secret.FromString(s)
	}
	es := jwt.SigningMethodES256
	if good := forge(es, nil, nil, key); !mustIntrospect(t, w.svc, good).Active {
		t.Fatal("the forgery baseline is not active: the reject cases below would prove nothing")
	}
	pub, _ := x509.MarshalPKIXPublicKey(key.Public())
	tampered := bound.AccessToken.Reveal()
	parts := strings.Split(tampered, ".")
	payload := decodeSegment(t, tampered, 1)
	payload["scope"] = "event.read event.create billing.admin"
	pb, _ := json.Marshal(payload)
	tampered = parts[0] + "." + b64url(pb) + "." + parts[2]

	otherIssuer, err := tokenex.New(ctx, tokenex.Config{Issuer: "https://other.test", Store: w.db, Now: w.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	foreignKey := newFixture(t) // a database with other keys
	_, secF := foreignKey.register(t, tokenex.ClientSpec{ClientID: "svc-p", Scope: "event.read", Audience: []string{"event"},
		TokenEndpointAuthMethod: tokenex.MethodClientSecretBasic})
	unknownKID, err := foreignKey.svc.IssueToken(ctx, cc(basic("svc-p", secF)))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("accept/bound", func(t *testing.T) {
		in := mustIntrospect(t, w.svc, bound.AccessToken)
		c := decodeSegment(t, bound.AccessToken.Reveal(), 1)
		if !in.Active || in.Scope != c["scope"] || in.ClientID != "svc-a" || in.Sub != "svc-a" || in.Aud != "event" ||
			in.Iss != issuer || in.Exp != int64(c["exp"].(float64)) || in.Iat != int64(c["iat"].(float64)) ||
			in.Nbf != int64(c["nbf"].(float64)) || in.JTI != c["jti"] || in.TokenType != "Bearer" ||
			in.Cnf == nil || in.Cnf.X5tS256 != certs.X5tS256(w.certA[0].Raw) {
			t.Fatalf("introspection %+v for claims %v", in, c)
		}
	})
	t.Run("accept/unbound-has-no-cnf", func(t *testing.T) {
		in := mustIntrospect(t, w.svc, unbound.AccessToken)
		b, _ := json.Marshal(in)
		if !in.Active || strings.Contains(string(b), "cnf") {
			t.Fatalf("introspection %s", b)
		}
	})
	t.Run("accept/self-signed-bound", func(t *testing.T) {
		if in := mustIntrospect(t, w.svc, selfSigned.AccessToken); !in.Active || in.Cnf == nil {
			t.Fatalf("introspection %+v", in)
		}
	})

	inactive := []struct {
		name  string
		token secret.Secret
	}{
		{"reject/empty", secret.Secret{}},
		{"reject/garbage", secret.FromString("not.a.jwt")},
		{"reject/huge", secret.FromString(strings.Repeat("a", 10000))},
		{"reject/tampered-payload", secret.FromString(tampered)},
		{"reject/alg-none", forge(jwt.SigningMethodNone, map[string]any{"alg": "none"}, nil, jwt.UnsafeAllowNoneSignatureType)},
		{"reject/hs256-with-public-key", forge(jwt.SigningMethodHS256, nil, nil, pub)},
		{"reject/typ-jwt", forge(es, map[string]any{"typ": "JWT"}, nil, key)},
		{"reject/no-typ", forge(es, map[string]any{"typ": nil}, nil, key)},
		{"reject/unknown-kid", unknownKID.AccessToken},
		{"reject/no-kid", forge(es, map[string]any{"kid": nil}, nil, key)},
		{"reject/wrong-issuer", forge(es, nil, func(c jwt.MapClaims) { c["iss"] = "https://other.test" }, key)},
		{"reject/issuer-trailing-slash", forge(es, nil, func(c jwt.MapClaims) { c["iss"] = issuer + "/" }, key)},
		{"reject/expired", forge(es, nil, func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Second).Unix() }, key)},
		{"reject/no-exp", forge(es, nil, func(c jwt.MapClaims) { delete(c, "exp") }, key)},
		{"reject/not-yet-valid", forge(es, nil, func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Minute).Unix() }, key)},
		{"reject/issued-in-future", forge(es, nil, func(c jwt.MapClaims) { c["iat"] = now.Add(time.Minute).Unix() }, key)},
		{"reject/sub-not-client", forge(es, nil, func(c jwt.MapClaims) { c["sub"] = "svc-a" }, key)},
		{"reject/two-audiences", forge(es, nil, func(c jwt.MapClaims) { c["aud"] = []string{"event", "billing"} }, key)},
		{"reject/no-jti", forge(es, nil, func(c jwt.MapClaims) { delete(c, "jti") }, key)},
		{"reject/unknown-client", forge(es, nil, func(c jwt.MapClaims) { c["sub"], c["client_id"] = "ghost", "ghost" }, key)},
		{"reject/bad-cnf", forge(es, nil, func(c jwt.MapClaims) { c["cnf"] = map[string]string{"x5t#S256": "AAAA"} }, key)},
	}
	for _, tt := range inactive {
		t.Run(tt.name, func(t *testing.T) {
			in := mustIntrospect(t, w.svc, tt.token)
			if b, _ := json.Marshal(in); string(b) != `{"active":false}` {
				t.Fatalf("introspection %s, want exactly {\"active\":false}", b)
			}
		})
	}
	t.Run("reject/issued-for-other-issuer", func(t *testing.T) {
		// Same database and keys, another issuer string.
		tok, err := otherIssuer.IssueToken(ctx, cc(basic("svc-p", w.secretP)))
		if err != nil {
			t.Fatal(err)
		}
		if mustIntrospect(t, w.svc, tok.AccessToken).Active {
			t.Fatal("a token of another issuer is active")
		}
	})

	// State changes after issuance.
	t.Run("reject/client-disabled", func(t *testing.T) {
		off, on := true, false
		if _, err := w.svc.UpdateClient(ctx, "svc-q", tokenex.ClientPatch{Disabled: &off}); err != nil {
			t.Fatal(err)
		}
		if mustIntrospect(t, w.svc, toDisable.AccessToken).Active {
			t.Fatal("token of a disabled client is active")
		}
		if _, err := w.svc.UpdateClient(ctx, "svc-q", tokenex.ClientPatch{Disabled: &on}); err != nil {
			t.Fatal(err)
		}
		if !mustIntrospect(t, w.svc, toDisable.AccessToken).Active {
			t.Fatal("token of a re-enabled client is inactive: the disabled case proved nothing")
		}
	})
	t.Run("reject/certificate-revoked", func(t *testing.T) {
		if _, err := w.db.RevokeCertificate(ctx, certs.SerialString(w.certA[0].SerialNumber), "key compromise", now); err != nil {
			t.Fatal(err)
		}
		if mustIntrospect(t, w.svc, bound.AccessToken).Active {
			t.Fatal("token bound to a revoked certificate is active")
		}
		if !mustIntrospect(t, w.svc, bound2.AccessToken).Active {
			t.Fatal("token bound to the client's other, unrevoked certificate is inactive")
		}
	})
	t.Run("reject/expired-by-clock", func(t *testing.T) {
		w.clock.Advance(tokenex.DefaultTokenTTL)
		if mustIntrospect(t, w.svc, unbound.AccessToken).Active {
			t.Fatal("expired token is active")
		}
	})
	t.Run("reject/client-deleted", func(t *testing.T) {
		w.clock.Set(now)
		if !mustIntrospect(t, w.svc, bound2.AccessToken).Active {
			t.Fatal("precondition: token is active")
		}
		if err := w.svc.DeleteClient(ctx, "svc-a"); err != nil {
			t.Fatal(err)
		}
		if mustIntrospect(t, w.svc, bound2.AccessToken).Active {
			t.Fatal("token of a deleted client is active")
		}
	})
}

func mustIntrospect(t testing.TB, s *tokenex.Service, tok secret.Secret) tokenex.Introspection {
	t.Helper()
	in, err := s.Introspect(context.Background(), tok)
	if err != nil {
		t.Fatalf("Introspect: %v", err)
	}
	return in
}

func TestAuthenticateCaller(t *testing.T) {
	w := newWorld(t)
	tests := []struct {
		name    string
		auth    tokenex.ClientAuth
		wantErr error
		method  string
	}{
		{"accept/tls", mtls("svc-a", w.certA), nil, tokenex.MethodTLSClientAuth},
		{"accept/self-signed", mtls("svc-s", w.certS), nil, tokenex.MethodSelfSignedTLSClientAuth},
		{"accept/basic", basic("svc-p", w.secretP), nil, tokenex.MethodClientSecretBasic},
		{"reject/wrong-secret", basic("svc-p", w.secretQ), tokenex.ErrInvalidClient, ""},
		{"reject/no-credentials", tokenex.ClientAuth{}, tokenex.ErrInvalidClient, ""},
		{"reject/foreign-cert", mtls("svc-a", w.certX), tokenex.ErrInvalidClient, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := w.svc.AuthenticateClient(t.Context(), tt.auth)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("AuthenticateClient: %v, want %v", err, tt.wantErr)
			}
			if err == nil && (c.Method != tt.method || c.ClientID == "") {
				t.Fatalf("caller %+v", c)
			}
		})
	}
}
