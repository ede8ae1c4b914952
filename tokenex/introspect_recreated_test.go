package tokenex_test

import (
	"encoding/base64"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/certbound/certbound/certs/secret"
	"github.com/certbound/certbound/tokenex"
)

// TestIntrospectRecreatedClient: a token issued to a client that was then
// deleted stays inactive when a client of the same id is registered again,
// even within the same second (a token's iat has whole seconds only), for
// every method whose tokens do not die with a revoked certbound
// certificate: secrets (unbound) and self-signed certificates (bound to a
// certificate certbound never revokes). The new client's own tokens are
// active.
func TestIntrospectRecreatedClient(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	event := []string{"event"}
	for _, tc := range []struct {
		name string
		spec tokenex.ClientSpec
		auth func(tokenex.ClientSpec) tokenex.ClientAuth // after (re)registration
	}{
		{name: "reject/client_secret_basic", spec: tokenex.ClientSpec{ClientID: "re-basic", Scope: "event.read", Audience: event,
			TokenEndpointAuthMethod: tokenex.MethodClientSecretBasic}},
		{name: "reject/client_secret_post", spec: tokenex.ClientSpec{ClientID: "re-post", Scope: "event.read", Audience: event,
			TokenEndpointAuthMethod: tokenex.MethodClientSecretPost}},
		{name: "reject/self_signed_tls_client_auth, same certificate", spec: tokenex.ClientSpec{ClientID: "svc-u", Scope: "event.read",
			Audience: event, TokenEndpointAuthMethod: tokenex.MethodSelfSignedTLSClientAuth, SelfSignedCertificates: []string{pemOf(w.certU[0])}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			issue := func() tokenex.ClientAuth {
				_, sec := w.register(t, tc.spec)
				switch tc.spec.TokenEndpointAuthMethod {
				case tokenex.MethodClientSecretBasic:
					return basic(tc.spec.ClientID, sec)
				case tokenex.MethodClientSecretPost:
					return post(tc.spec.ClientID, sec)
				}
				return mtls(tc.spec.ClientID, w.certU)
			}
			old, err := w.svc.IssueToken(ctx, cc(issue()))
			if err != nil {
				t.Fatal(err)
			}
			if !mustIntrospect(t, w.svc, old.AccessToken).Active {
				t.Fatal("precondition: the first client's token is active")
			}
			if err := w.svc.DeleteClient(ctx, tc.spec.ClientID); err != nil {
				t.Fatal(err)
			}
			// Same id again, within the same second (the test clock stands still).
			again := issue()
			if mustIntrospect(t, w.svc, old.AccessToken).Active {
				t.Fatal("a token of the deleted client is active again for the client registered under its id")
			}
			fresh, err := w.svc.IssueToken(ctx, cc(again))
			if err != nil {
				t.Fatal(err)
			}
			if !mustIntrospect(t, w.svc, fresh.AccessToken).Active {
				t.Fatal("the new client's own token is inactive")
			}
		})
	}
}

// TestIntrospectClientGeneration: the client_gen claim ties a token to one
// client record. A real token carries it and verifies independently (an
// unknown private claim changes nothing for a third party); it survives
// changes to the record (PATCH); a token naming another generation is
// inactive; a token without one (issued before generations existed) is
// judged by its iat against the record's creation, to the second.
func TestIntrospectClientGeneration(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	now := w.clock.Now()
	tok, err := w.svc.IssueToken(ctx, cc(basic("svc-p", w.secretP)))
	if err != nil {
		t.Fatal(err)
	}
	payload := decodeSegment(t, tok.AccessToken.Reveal(), 1)
	gen, _ := payload["client_gen"].(string)
	if raw, err := base64.RawURLEncoding.DecodeString(gen); err != nil || len(raw) != 16 {
		t.Fatalf("client_gen %q is not 128 bits base64url", gen)
	}
	if _, err := verifyJWT(t, w.svc.JWKS(), tok.AccessToken.Reveal(), "event", now); err != nil {
		t.Fatalf("a third party cannot verify a token with client_gen: %v", err)
	}
	name := "renamed"
	if _, err := w.svc.UpdateClient(ctx, "svc-p", tokenex.ClientPatch{ClientName: &name}); err != nil {
		t.Fatal(err)
	}
	if !mustIntrospect(t, w.svc, tok.AccessToken).Active {
		t.Fatal("accept/after PATCH: a change to the record made its tokens inactive")
	}

	kid, key := currentKey(t, w.db, now)
	forge := func(edit func(jwt.MapClaims)) secret.Secret {
		t.Helper()
		c := jwt.MapClaims{"iss": issuer, "sub": "svc-p", "client_id": "svc-p", "aud": "event", "scope": "event.read",
			"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": "abcdefghijklmnopqrstuv"}
		edit(c)
		tk := jwt.NewWithClaims(jwt.SigningMethodES256, c)
		tk.Header["typ"], tk.Header["kid"] = "at+jwt", kid
		s, err := tk.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return secret.FromString(s)
	}
	for _, tc := range []struct {
		name   string
		edit   func(jwt.MapClaims)
		active bool
	}{
		{"accept/the record's generation", func(c jwt.MapClaims) { c["client_gen"] = gen }, true},
		{"reject/another generation", func(c jwt.MapClaims) { c["client_gen"] = b64url(make([]byte, 16)) }, false},
		{"reject/a generation with a byte more", func(c jwt.MapClaims) { c["client_gen"] = gen + "AA" }, false},
		{"accept/no generation, issued in the record's second", func(jwt.MapClaims) {}, true},
		{"reject/no generation, issued before the record", func(c jwt.MapClaims) {
			c["iat"], c["nbf"] = now.Add(-time.Second).Unix(), now.Add(-time.Second).Unix()
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := mustIntrospect(t, w.svc, forge(tc.edit)).Active; got != tc.active {
				t.Fatalf("active = %v, want %v", got, tc.active)
			}
		})
	}
}
