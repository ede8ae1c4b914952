package tokenex_test

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certbound/certbound/ca/catest"
	"github.com/certbound/certbound/certs"
	"github.com/certbound/certbound/certs/secret"
	"github.com/certbound/certbound/tokenex"
)

// world is the cast of RFC checklist §1: clients and their certificates.
type world struct {
	*fixture
	secretP, secretQ secret.Secret
	secretOff        secret.Secret       // svc-offp, disabled
	certA, certA2    []*x509.Certificate // svc-a, issued by the CA
	certB            []*x509.Certificate // svc-b
	certX            []*x509.Certificate // svc-a's names, from a foreign CA
	certS            []*x509.Certificate // svc-s's registered self-signed certificate
	certU            []*x509.Certificate // self-signed, registered nowhere
	expiredA         []*x509.Certificate
	revokedA         []*x509.Certificate
	certOffCA        []*x509.Certificate // svc-caoff, disabled in the CA's status source
}

func newWorld(t testing.TB, opts ...option) *world {
	t.Helper()
	w := &world{fixture: newFixture(t, opts...)}
	leaf := func(id string) []*x509.Certificate {
		c, _ := w.ca.Leaf(t, id)
		return catest.PeerCertificates(t, c)
	}
	w.certA, w.certA2, w.certB = leaf("svc-a"), leaf("svc-a"), leaf("svc-b")
	foreign := catest.ForeignCA(t)
	x, _ := foreign.Leaf(t, "svc-a")
	w.certX = catest.PeerCertificates(t, x)
	s, _ := catest.SelfSigned(t, "svc-s")
	w.certS = catest.PeerCertificates(t, s)
	u, _ := catest.SelfSigned(t, "svc-u")
	w.certU = catest.PeerCertificates(t, u)
	exp, _ := w.ca.ExpiredLeaf(t, "svc-a")
	w.expiredA = catest.PeerCertificates(t, exp)
	w.revokedA = leaf("svc-a")
	w.ca.Status.Revoke(certs.SerialString(w.revokedA[0].SerialNumber))
	w.certOffCA = leaf("svc-caoff")
	w.ca.Status.Disable("svc-caoff")

	event := []string{"event", "https://event.example/api"}
	w.register(t, tokenex.ClientSpec{ClientID: "svc-a", Scope: "event.read event.create", Audience: event})
	w.register(t, tokenex.ClientSpec{ClientID: "svc-b", Scope: "billing.read", Audience: []string{"billing"}})
	w.register(t, tokenex.ClientSpec{ClientID: "svc-c", Scope: "event.read", Audience: event,
		TLSClientAuthSANURI: "spiffe://certbound.local/svc-a"})
	w.register(t, tokenex.ClientSpec{ClientID: "svc-s", Scope: "event.read", Audience: event,
		TokenEndpointAuthMethod: tokenex.MethodSelfSignedTLSClientAuth, SelfSignedCertificates: []string{pemOf(w.certS[0])}})
	_, w.secretP = w.register(t, tokenex.ClientSpec{ClientID: "svc-p", Scope: "event.read", Audience: event,
		TokenEndpointAuthMethod: tokenex.MethodClientSecretBasic})
	_, w.secretQ = w.register(t, tokenex.ClientSpec{ClientName: "Svc Q", Scope: "event.read", Audience: event,
		TokenEndpointAuthMethod: tokenex.MethodClientSecretPost})
	w.register(t, tokenex.ClientSpec{ClientID: "svc-noaud", Scope: "x"})
	w.register(t, tokenex.ClientSpec{ClientID: "svc-noscope", Audience: event})
	w.register(t, tokenex.ClientSpec{ClientID: "svc-ttl", Scope: "x", Audience: event, AccessTokenTTL: 5 * time.Minute})
	w.register(t, tokenex.ClientSpec{ClientID: "svc-off", Scope: "x", Audience: event})
	w.register(t, tokenex.ClientSpec{ClientID: "svc-caoff", Scope: "x", Audience: event})
	_, w.secretOff = w.register(t, tokenex.ClientSpec{ClientID: "svc-offp", Scope: "x", Audience: event,
		TokenEndpointAuthMethod: tokenex.MethodClientSecretBasic})
	for _, id := range []string{"svc-off", "svc-offp"} {
		off := true
		if _, err := w.svc.UpdateClient(t.Context(), id, tokenex.ClientPatch{Disabled: &off}); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

func mtls(id string, chain []*x509.Certificate) tokenex.ClientAuth {
	return tokenex.ClientAuth{ClientID: id, PeerChain: chain}
}

func basic(id string, s secret.Secret) tokenex.ClientAuth {
	return tokenex.ClientAuth{Basic: &tokenex.BasicAuth{ClientID: id, Secret: s}}
}

func post(id string, s secret.Secret) tokenex.ClientAuth {
	return tokenex.ClientAuth{ClientID: id, ClientSecret: s}
}

func cc(a tokenex.ClientAuth) tokenex.TokenRequest {
	return tokenex.TokenRequest{ClientAuth: a, GrantType: "client_credentials"}
}

func with(r tokenex.TokenRequest, edit func(*tokenex.TokenRequest)) tokenex.TokenRequest {
	edit(&r)
	return r
}

func TestIssueToken(t *testing.T) {
	w := newWorld(t)
	clientQ, err := w.svc.ListClients(t.Context(), "svc-p", 100)
	if err != nil {
		t.Fatal(err)
	}
	idQ := ""
	for _, c := range clientQ {
		if c.Name == "Svc Q" {
			idQ = c.ID
		}
	}
	if idQ != "svc-q" {
		t.Fatalf("derived id %q, want svc-q", idQ)
	}
	secretCertU := w.certU
	ttlChain := leafChain(t, w, "svc-ttl")
	wrong := secret.FromString(tokenex.SecretPrefix + "wrong")

	type want struct {
		client, scope, aud string
		cnf                []*x509.Certificate // nil: unbound
		expiresIn          int64
	}
	tests := []struct {
		name       string
		req        tokenex.TokenRequest
		wantErr    error
		wantReason tokenex.Reason
		want       want
	}{
		{name: "accept/tls-defaults", req: cc(mtls("svc-a", w.certA)),
			want: want{client: "svc-a", scope: "event.read event.create", aud: "event", cnf: w.certA}},
		{name: "accept/tls-renewed-certificate", req: cc(mtls("svc-a", w.certA2)),
			want: want{client: "svc-a", scope: "event.read event.create", aud: "event", cnf: w.certA2}},
		{name: "accept/scope-subset", req: with(cc(mtls("svc-a", w.certA)), func(r *tokenex.TokenRequest) { r.Scope = "event.create" }),
			want: want{client: "svc-a", scope: "event.create", aud: "event", cnf: w.certA}},
		{name: "accept/scope-reordered-duplicated", req: with(cc(mtls("svc-a", w.certA)), func(r *tokenex.TokenRequest) { r.Scope = "event.create event.read event.create" }),
			want: want{client: "svc-a", scope: "event.create event.read", aud: "event", cnf: w.certA}},
		{name: "accept/audience-name", req: with(cc(mtls("svc-a", w.certA)), func(r *tokenex.TokenRequest) { r.Audience = "event" }),
			want: want{client: "svc-a", scope: "event.read event.create", aud: "event", cnf: w.certA}},
		{name: "accept/resource-uri", req: with(cc(mtls("svc-a", w.certA)), func(r *tokenex.TokenRequest) {
			r.Resource = []string{"https://event.example/api", "https://event.example/api", ""}
		}), want: want{client: "svc-a", scope: "event.read event.create", aud: "https://event.example/api", cnf: w.certA}},
		{name: "accept/resource-and-audience-agree", req: with(cc(mtls("svc-a", w.certA)), func(r *tokenex.TokenRequest) {
			r.Resource, r.Audience = []string{"https://event.example/api"}, "https://event.example/api"
		}), want: want{client: "svc-a", scope: "event.read event.create", aud: "https://event.example/api", cnf: w.certA}},
		{name: "accept/custom-san-uri", req: cc(mtls("svc-c", w.certA)),
			want: want{client: "svc-c", scope: "event.read", aud: "event", cnf: w.certA}},
		{name: "accept/self-signed", req: cc(mtls("svc-s", w.certS)),
			want: want{client: "svc-s", scope: "event.read", aud: "event", cnf: w.certS}},
		{name: "accept/basic-unbound", req: cc(basic("svc-p", w.secretP)),
			want: want{client: "svc-p", scope: "event.read", aud: "event"}},
		{name: "accept/basic-and-same-client-id", req: with(cc(basic("svc-p", w.secretP)), func(r *tokenex.TokenRequest) { r.ClientID = "svc-p" }),
			want: want{client: "svc-p", scope: "event.read", aud: "event"}},
		{name: "accept/basic-bound-to-presented-cert", req: with(cc(basic("svc-p", w.secretP)), func(r *tokenex.TokenRequest) { r.PeerChain = secretCertU }),
			want: want{client: "svc-p", scope: "event.read", aud: "event", cnf: w.certU}},
		{name: "accept/post", req: cc(post("svc-q", w.secretQ)),
			want: want{client: "svc-q", scope: "event.read", aud: "event"}},
		{name: "accept/client-ttl", req: cc(mtls("svc-ttl", ttlChain)),
			want: want{client: "svc-ttl", scope: "x", aud: "event", cnf: ttlChain, expiresIn: 300}},

		{name: "reject/grant-missing", req: with(cc(mtls("svc-a", w.certA)), func(r *tokenex.TokenRequest) { r.GrantType = "" }),
			wantErr: tokenex.ErrInvalidRequest, wantReason: tokenex.ReasonMissingGrantType},
		{name: "reject/grant-password", req: with(cc(mtls("svc-a", w.certA)), func(r *tokenex.TokenRequest) { r.GrantType = "password" }),
			wantErr: tokenex.ErrUnsupportedGrantType},
		{name: "reject/grant-case", req: with(cc(mtls("svc-a", w.certA)), func(r *tokenex.TokenRequest) { r.GrantType = "CLIENT_CREDENTIALS" }),
			wantErr: tokenex.ErrUnsupportedGrantType},
		{name: "reject/basic-and-post", req: with(cc(basic("svc-p", w.secretP)), func(r *tokenex.TokenRequest) { r.ClientSecret = w.secretP }),
			wantErr: tokenex.ErrInvalidRequest, wantReason: tokenex.ReasonTwoMethods},
		{name: "reject/basic-client-id-mismatch", req: with(cc(basic("svc-p", w.secretP)), func(r *tokenex.TokenRequest) { r.ClientID = "svc-a" }),
			wantErr: tokenex.ErrInvalidRequest, wantReason: tokenex.ReasonClientIDMismatch},
		{name: "reject/no-client-id", req: cc(mtls("", w.certA)), wantErr: tokenex.ErrInvalidClient, wantReason: tokenex.ReasonMissingClientID},
		{name: "reject/unknown-client", req: cc(basic("svc-zz", w.secretP)), wantErr: tokenex.ErrInvalidClient, wantReason: tokenex.ReasonUnknownClient},
		{name: "reject/tls-no-certificate", req: cc(mtls("svc-a", nil)), wantErr: tokenex.ErrInvalidClient, wantReason: tokenex.ReasonNoCertificate},
		{name: "reject/tls-other-clients-certificate", req: cc(mtls("svc-a", w.certB)), wantErr: tokenex.ErrInvalidClient, wantReason: tokenex.ReasonSANMismatch},
		{name: "reject/tls-certificate-for-other-client", req: cc(mtls("svc-b", w.certA)), wantErr: tokenex.ErrInvalidClient, wantReason: tokenex.ReasonSANMismatch},
		{name: "reject/tls-foreign-ca", req: cc(mtls("svc-a", w.certX)), wantErr: tokenex.ErrInvalidClient, wantReason: tokenex.ReasonUntrusted},
		{name: "reject/tls-self-signed", req: cc(mtls("svc-a", w.certU)), wantErr: tokenex.ErrInvalidClient, wantReason: tokenex.ReasonUntrusted},
		{name: "reject/tls-expired", req: cc(mtls("svc-a", w.expiredA)), wantErr: tokenex.ErrInvalidClient, wantReason: tokenex.ReasonCertExpired},
		{name: "reject/tls-revoked", req: cc(mtls("svc-a", w.revokedA)), wantErr: tokenex.ErrInvalidClient, wantReason: tokenex.ReasonCertRevoked},
		{name: "reject/tls-plus-basic", req: with(cc(mtls("svc-a", w.certA)), func(r *tokenex.TokenRequest) {
			r.Basic = &tokenex.BasicAuth{ClientID: "svc-a", Secret: wrong}
		}), wantErr: tokenex.ErrInvalidClient, wantReason: tokenex.ReasonWrongMethod},
		{name: "reject/tls-client-disabled", req: cc(mtls("svc-off", leafChain(t, w, "svc-off"))), wantErr: tokenex.ErrInvalidClient,
			wantReason: tokenex.ReasonClientDisabled},
		{name: "reject/tls-client-disabled-at-ca", req: cc(mtls("svc-caoff", w.certOffCA)), wantErr: tokenex.ErrInvalidClient,
			wantReason: tokenex.ReasonCertClientOff},
		{name: "reject/self-signed-unregistered", req: cc(mtls("svc-s", w.certU)), wantErr: tokenex.ErrInvalidClient, wantReason: tokenex.ReasonCertUnregistered},
		{name: "reject/self-signed-ca-issued", req: cc(mtls("svc-s", w.certA)), wantErr: tokenex.ErrInvalidClient, wantReason: tokenex.ReasonCertUnregistered},
		{name: "reject/self-signed-no-certificate", req: cc(mtls("svc-s", nil)), wantErr: tokenex.ErrInvalidClient, wantReason: tokenex.ReasonNoCertificate},
		{name: "reject/self-signed-with-secret", req: with(cc(mtls("svc-s", w.certS)), func(r *tokenex.TokenRequest) { r.ClientSecret = wrong }),
			wantErr: tokenex.ErrInvalidClient, wantReason: tokenex.ReasonWrongMethod},
		{name: "reject/basic-wrong-secret", req: cc(basic("svc-p", wrong)), wantErr: tokenex.ErrInvalidClient, wantReason: tokenex.ReasonBadSecret},
		{name: "reject/basic-other-clients-secret", req: cc(basic("svc-p", w.secretQ)), wantErr: tokenex.ErrInvalidClient, wantReason: tokenex.ReasonBadSecret},
		{name: "reject/basic-empty-password", req: cc(basic("svc-p", secret.Secret{})), wantErr: tokenex.ErrInvalidClient, wantReason: tokenex.ReasonBadSecret},
		{name: "reject/basic-client-posting", req: cc(post("svc-p", w.secretP)), wantErr: tokenex.ErrInvalidClient, wantReason: tokenex.ReasonWrongMethod},
		{name: "reject/post-client-using-basic", req: cc(basic("svc-q", w.secretQ)), wantErr: tokenex.ErrInvalidClient, wantReason: tokenex.ReasonWrongMethod},
		{name: "reject/secret-client-certificate-only", req: cc(mtls("svc-p", w.certU)), wantErr: tokenex.ErrInvalidClient, wantReason: tokenex.ReasonNoCredentials},
		{name: "reject/secret-client-disabled", req: cc(basic("svc-offp", w.secretOff)), wantErr: tokenex.ErrInvalidClient, wantReason: tokenex.ReasonClientDisabled},
		{name: "reject/secret-client-disabled-wrong-secret", req: cc(basic("svc-offp", wrong)), wantErr: tokenex.ErrInvalidClient, wantReason: tokenex.ReasonBadSecret},
		{name: "reject/scope-not-allowed", req: with(cc(mtls("svc-a", w.certA)), func(r *tokenex.TokenRequest) { r.Scope = "event.read billing.read" }),
			wantErr: tokenex.ErrInvalidScope, wantReason: tokenex.ReasonScopeNotAllowed},
		{name: "reject/scope-case-sensitive", req: with(cc(mtls("svc-a", w.certA)), func(r *tokenex.TokenRequest) { r.Scope = "EVENT.READ" }),
			wantErr: tokenex.ErrInvalidScope, wantReason: tokenex.ReasonScopeNotAllowed},
		{name: "reject/scope-syntax", req: with(cc(mtls("svc-a", w.certA)), func(r *tokenex.TokenRequest) { r.Scope = `event.read"` }),
			wantErr: tokenex.ErrInvalidScope, wantReason: tokenex.ReasonScopeSyntax},
		{name: "reject/scope-only-spaces", req: with(cc(mtls("svc-a", w.certA)), func(r *tokenex.TokenRequest) { r.Scope = "  " }),
			wantErr: tokenex.ErrInvalidScope, wantReason: tokenex.ReasonScopeEmpty},
		{name: "reject/client-without-scope", req: cc(mtls("svc-noscope", leafChain(t, w, "svc-noscope"))),
			wantErr: tokenex.ErrInvalidScope, wantReason: tokenex.ReasonScopeEmpty},
		{name: "reject/audience-not-allowed", req: with(cc(mtls("svc-a", w.certA)), func(r *tokenex.TokenRequest) { r.Audience = "billing" }),
			wantErr: tokenex.ErrInvalidTarget, wantReason: tokenex.ReasonTargetNotAllowed},
		{name: "reject/resource-not-absolute", req: with(cc(mtls("svc-a", w.certA)), func(r *tokenex.TokenRequest) { r.Resource = []string{"event"} }),
			wantErr: tokenex.ErrInvalidTarget, wantReason: tokenex.ReasonResourceSyntax},
		{name: "reject/resource-fragment", req: with(cc(mtls("svc-a", w.certA)), func(r *tokenex.TokenRequest) { r.Resource = []string{"https://event.example/api#x"} }),
			wantErr: tokenex.ErrInvalidTarget, wantReason: tokenex.ReasonResourceSyntax},
		{name: "reject/resource-not-allowed", req: with(cc(mtls("svc-a", w.certA)), func(r *tokenex.TokenRequest) { r.Resource = []string{"https://billing.example/"} }),
			wantErr: tokenex.ErrInvalidTarget, wantReason: tokenex.ReasonTargetNotAllowed},
		{name: "reject/resources-differ", req: with(cc(mtls("svc-a", w.certA)), func(r *tokenex.TokenRequest) {
			r.Resource = []string{"https://event.example/api", "https://billing.example/"}
		}), wantErr: tokenex.ErrInvalidTarget, wantReason: tokenex.ReasonTargetConflict},
		{name: "reject/resource-and-audience-differ", req: with(cc(mtls("svc-a", w.certA)), func(r *tokenex.TokenRequest) {
			r.Resource, r.Audience = []string{"https://event.example/api"}, "event"
		}), wantErr: tokenex.ErrInvalidTarget, wantReason: tokenex.ReasonTargetConflict},
		{name: "reject/client-without-audience", req: cc(mtls("svc-noaud", leafChain(t, w, "svc-noaud"))),
			wantErr: tokenex.ErrInvalidTarget, wantReason: tokenex.ReasonNoDefaultAudience},
	}
	descriptions := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := w.svc.IssueToken(t.Context(), tt.req)
			if tt.wantErr != nil {
				var e *tokenex.Error
				if !errors.Is(err, tt.wantErr) || !errors.As(err, &e) {
					t.Fatalf("IssueToken error = %v, want %v", err, tt.wantErr)
				}
				if tt.wantReason != "" && e.Reason != tt.wantReason {
					t.Errorf("reason = %s, want %s", e.Reason, tt.wantReason)
				}
				if tok != nil {
					t.Error("a token came with the error")
				}
				checkDescription(t, err)
				if e.Code == tokenex.CodeInvalidClient {
					descriptions[e.Description] = true
				}
				return
			}
			if err != nil {
				t.Fatalf("IssueToken: %v", err)
			}
			checkToken(t, w.fixture, tok, tt.want.client, tt.want.scope, tt.want.aud, tt.want.cnf)
			wantExpires := cmpOr(tt.want.expiresIn, int64(tokenex.DefaultTokenTTL/time.Second))
			if tok.ExpiresIn != wantExpires {
				t.Errorf("expires_in = %d, want %d", tok.ExpiresIn, wantExpires)
			}
		})
	}
	if len(descriptions) != 1 {
		t.Errorf("invalid_client descriptions differ: %v (STYLE C6: one text for all)", descriptions)
	}
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// leafChain issues a CA leaf for id.
func leafChain(t testing.TB, w *world, id string) []*x509.Certificate {
	t.Helper()
	c, _ := w.ca.Leaf(t, id)
	return catest.PeerCertificates(t, c)
}

// checkToken verifies tok independently (golang-jwt + the published JWKS)
// and checks every RFC 9068 claim.
func checkToken(t *testing.T, f *fixture, tok *tokenex.Token, client, scope, aud string, bound []*x509.Certificate) *claims {
	t.Helper()
	raw := tok.AccessToken.Reveal()
	c, err := verifyJWT(t, f.svc.JWKS(), raw, aud, f.clock.Now())
	if err != nil {
		t.Fatalf("independent verification: %v", err)
	}
	header := decodeSegment(t, raw, 0)
	if header["alg"] != "ES256" || header["typ"] != "at+jwt" || header["kid"] != f.svc.CurrentKeyID() || header["kid"] != tok.KeyID || len(header) != 3 {
		t.Errorf("header = %v", header)
	}
	if sig, err := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[2]); err != nil || len(sig) != 64 {
		t.Errorf("ES256 signature is %d bytes, want 64 (R||S, RFC 7518 section 3.4)", len(sig))
	}
	payload := decodeSegment(t, raw, 1)
	if _, ok := payload["aud"].(string); !ok {
		t.Errorf("aud %v is not a single string", payload["aud"])
	}
	for _, name := range []string{"iss", "exp", "aud", "sub", "client_id", "iat", "jti", "nbf", "scope", "scp", "stt"} {
		if _, ok := payload[name]; !ok {
			t.Errorf("claim %s missing", name)
		}
	}
	jti, err := base64.RawURLEncoding.DecodeString(c.ID)
	switch {
	case c.Issuer != issuer || c.Subject != client || c.ClientID != client:
		t.Errorf("iss %q sub %q client_id %q", c.Issuer, c.Subject, c.ClientID)
	case c.Scope != scope || tok.Scope != scope || !slices.Equal(c.Scp, strings.Fields(scope)):
		t.Errorf("scope %q / %q, scp %v, want %q", c.Scope, tok.Scope, c.Scp, scope)
	case c.Stt == nil || *c.Stt != 1:
		t.Errorf("stt = %v, want 1", c.Stt)
	case err != nil || len(jti) < 16 || c.ID != tok.JTI:
		t.Errorf("jti %q is not 128 random bits", c.ID)
	case !c.IssuedAt.Equal(c.NotBefore.Time) || c.ExpiresAt.Unix()-c.IssuedAt.Unix() != tok.ExpiresIn:
		t.Errorf("iat %v nbf %v exp %v, expires_in %d", c.IssuedAt, c.NotBefore, c.ExpiresAt, tok.ExpiresIn)
	case tok.TokenType != "Bearer" || tok.ClientID != client || tok.Audience != aud:
		t.Errorf("token_type %q client %q audience %q", tok.TokenType, tok.ClientID, tok.Audience)
	}
	if bound == nil {
		if c.Cnf != nil || tok.Bound {
			t.Errorf("unbound token carries cnf %v (bound %v)", c.Cnf, tok.Bound)
		}
	} else if want := certs.X5tS256(bound[0].Raw); len(c.Cnf) != 1 || c.Cnf["x5t#S256"] != want || !tok.Bound {
		t.Errorf("cnf = %v, want {x5t#S256: %s}", c.Cnf, want)
	}
	// The token must not leak through fmt.
	if s := fmt.Sprintf("%v %+v %#v", tok, *tok, tok.AccessToken); strings.Contains(s, raw[:20]) {
		t.Errorf("the access token leaks through fmt: %s", s)
	}
	return c
}

func decodeSegment(t *testing.T, raw string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d segments", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatalf("segment %d: %v", i, err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("segment %d: %v", i, err)
	}
	return m
}

// TestSeedCompatibleRequest issues through the same entry point the seed's
// POST /recipe/oauth/clients + POST /auth/oauth/token translate onto.
func TestSeedCompatibleRequest(t *testing.T) {
	f := newFixture(t)
	c, sec := f.register(t, tokenex.ClientSpec{ClientName: "TaskService", GrantTypes: []string{"client_credentials"},
		Scope: "event.create", Audience: []string{"event"}, TokenEndpointAuthMethod: tokenex.MethodClientSecretPost})
	if c.ID != "taskservice" {
		t.Fatalf("client id %q", c.ID)
	}
	// {clientId, clientSecret, grantType, scope: ["event.create"], audience: "event"}
	tok, err := f.svc.IssueToken(t.Context(), tokenex.TokenRequest{
		ClientAuth: tokenex.ClientAuth{ClientID: c.ID, ClientSecret: secret.FromString(sec.Reveal())},
		GrantType:  "client_credentials", Scope: strings.Join([]string{"event.create"}, " "), Audience: "event"})
	if err != nil {
		t.Fatal(err)
	}
	cl := checkToken(t, f, tok, c.ID, "event.create", "event", nil)
	if !slices.Contains(cl.Scp, "event.create") || *cl.Stt != 1 {
		t.Errorf("seed verifier would refuse: scp %v stt %v", cl.Scp, cl.Stt)
	}
}

func TestTokenLifetimeCappedAtMax(t *testing.T) {
	f := newFixture(t, func(c *tokenex.Config) { c.DefaultTokenTTL, c.MaxTokenTTL = 10*time.Minute, 20*time.Minute })
	_, sec := f.register(t, tokenex.ClientSpec{ClientID: "svc-p", Scope: "x", Audience: []string{"event"},
		TokenEndpointAuthMethod: tokenex.MethodClientSecretBasic})
	tok, err := f.svc.IssueToken(t.Context(), cc(basic("svc-p", sec)))
	if err != nil {
		t.Fatal(err)
	}
	if tok.ExpiresIn != 600 {
		t.Errorf("expires_in %d, want the configured default 600", tok.ExpiresIn)
	}
	_, _, err = f.svc.RegisterClient(t.Context(), tokenex.ClientSpec{ClientID: "long", AccessTokenTTL: time.Hour})
	if !errors.Is(err, tokenex.ErrInvalidClientMetadata) {
		t.Fatalf("a client TTL above MaxTokenTTL: %v", err)
	}
}

func TestDecodeBasicAuth(t *testing.T) {
	// golang.org/x/oauth2 sends url.QueryEscape(id) ":" url.QueryEscape(secret).
	got, err := tokenex.DecodeBasicAuth("svc%2Bp", "a%3Ab+c%25")
	if err != nil || got.ClientID != "svc+p" || got.Secret.Reveal() != "a:b c%" {
		t.Fatalf("DecodeBasicAuth = %+v, %v", got, err)
	}
	if _, err := tokenex.DecodeBasicAuth("svc", "%zz"); !errors.Is(err, tokenex.ErrInvalidRequest) {
		t.Fatalf("bad percent-encoding: %v", err)
	}
}

func TestIssueTokenWithoutPeerVerifier(t *testing.T) {
	f := newFixture(t, func(c *tokenex.Config) { c.Peers = nil })
	f.register(t, tokenex.ClientSpec{ClientID: "svc-a", Scope: "x", Audience: []string{"event"}})
	leaf, _ := f.ca.Leaf(t, "svc-a")
	_, err := f.svc.IssueToken(t.Context(), cc(mtls("svc-a", catest.PeerCertificates(t, leaf))))
	var e *tokenex.Error
	if !errors.As(err, &e) || e.Code != tokenex.CodeInvalidClient || e.Reason != tokenex.ReasonUntrusted {
		t.Fatalf("tls_client_auth without a verifier: %v", err)
	}
}

func TestVerifierFailureIsServerError(t *testing.T) {
	w := newWorld(t)
	w.ca.Status.Fail(errors.New("database is down"))
	_, err := w.svc.IssueToken(t.Context(), cc(mtls("svc-a", w.certA)))
	var e *tokenex.Error
	if err == nil || errors.As(err, &e) {
		t.Fatalf("a status-source failure must be a server error, not %v", err)
	}
}

func TestSelfSignedExpired(t *testing.T) {
	w := newWorld(t)
	w.clock.Advance(2 * time.Hour) // catest.SelfSigned certificates live an hour
	_, err := w.svc.IssueToken(t.Context(), cc(mtls("svc-s", w.certS)))
	var e *tokenex.Error
	if !errors.As(err, &e) || e.Code != tokenex.CodeInvalidClient || e.Reason != tokenex.ReasonCertExpired {
		t.Fatalf("expired self-signed certificate: %v", err)
	}
}
