package server_test

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/certbound/certbound/ca/catest"
	"github.com/certbound/certbound/certs"
	"github.com/certbound/certbound/cmd/certbound/internal/server/servertest"
	"github.com/certbound/certbound/tokenex/verify"
)

const formType = "Content-Type: application/x-www-form-urlencoded"

func claimsOf(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// tokenOK requests a token and returns its decoded response.
func tokenOK(t *testing.T, s *servertest.Server, c *http.Client, form string) (string, *servertest.Response) {
	t.Helper()
	r := s.Do(t, c, "POST", "/oauth2/token", form, formType)
	if r.Status != 200 {
		t.Fatalf("token: %d %s", r.Status, r.Body)
	}
	var out struct {
		AccessToken string `json:"access_token"`
	}
	r.JSON(t, &out)
	return out.AccessToken, r
}

func TestTokenEndpointOverMTLS(t *testing.T) {
	s := servertest.Start(t)
	s.CreateClient(t, "svc-a", "event.create event.read", "event", "calendar")
	s.CreateClient(t, "svc-b", "x", "y")
	certA, _ := s.Enroll(t, s.MintToken(t, "svc-a"))
	certB, _ := s.Enroll(t, s.MintToken(t, "svc-b"))
	a := s.HTTPClient(certA)

	tok, r := tokenOK(t, s, a, "grant_type=client_credentials&client_id=svc-a")
	if r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("Pragma") != "no-cache" {
		t.Fatalf("headers %v", r.Header)
	}
	cl := claimsOf(t, tok)
	cnf, _ := cl["cnf"].(map[string]any)
	if cnf["x5t#S256"] != certs.X5tS256(certA.Leaf.Raw) || cl["aud"] != "event" || cl["scope"] != "event.create event.read" ||
		cl["stt"] != 1.0 || cl["sub"] != "svc-a" || cl["iss"] != strings.TrimSuffix(s.URL, "/") {
		t.Fatalf("claims %v", cl)
	}
	if strings.Contains(string(r.Body), "refresh_token") {
		t.Fatal("a refresh token was issued")
	}

	foreign := catest.ForeignCA(t)
	foreignCert, _ := foreign.Leaf(t, "svc-a")
	// Certificates of svc-a that will be expired (the clock moves) and revoked.
	expiredCert, _ := s.Enroll(t, s.MintToken(t, "svc-a"))

	s.CreateClient(t, "svc-off", "x", "y")
	offCert, _ := s.Enroll(t, s.MintToken(t, "svc-off"))
	s.Admin(t, "PATCH", "/v1/clients/svc-off", map[string]bool{"disabled": true})

	revokedCert, _ := s.Enroll(t, s.MintToken(t, "svc-a"))
	if r := s.Admin(t, "POST", "/v1/certificates/"+certs.SerialString(revokedCert.Leaf.SerialNumber)+"/revoke", nil); r.Status != 200 {
		t.Fatalf("revoke: %d", r.Status)
	}

	for _, tc := range []struct {
		name   string
		cert   *tls.Certificate
		form   string
		status int
		code   string
		later  time.Duration
	}{
		{"reject/no client certificate", nil, "grant_type=client_credentials&client_id=svc-a", 401, "invalid_client", 0},
		{"reject/foreign CA with the same SPIFFE SAN", &foreignCert, "grant_type=client_credentials&client_id=svc-a", 401, "invalid_client", 0},
		{"reject/revoked certificate", &revokedCert, "grant_type=client_credentials&client_id=svc-a", 401, "invalid_client", 0},
		{"reject/another client's certificate", &certB, "grant_type=client_credentials&client_id=svc-a", 401, "invalid_client", 0},
		{"reject/disabled client", &offCert, "grant_type=client_credentials&client_id=svc-off", 401, "invalid_client", 0},
		{"reject/scope beyond the client's", &certA, "grant_type=client_credentials&client_id=svc-a&scope=admin", 400, "invalid_scope", 0},
		{"reject/audience beyond the client's", &certA, "grant_type=client_credentials&client_id=svc-a&audience=billing", 400, "invalid_target", 0},
		{"reject/resource beyond the client's", &certA, "grant_type=client_credentials&client_id=svc-a&resource=https%3A%2F%2Fother.example", 400, "invalid_target", 0},
		{"reject/wrong grant", &certA, "grant_type=password&client_id=svc-a", 400, "unsupported_grant_type", 0},
		{"reject/repeated parameter", &certA, "grant_type=client_credentials&client_id=svc-a&scope=event.read&scope=event.create", 400, "invalid_request", 0},
		{"accept/narrowed scope and second audience", &certA, "grant_type=client_credentials&client_id=svc-a&scope=event.read&audience=calendar", 200, "", 0},
		{"reject/expired certificate", &expiredCert, "grant_type=client_credentials&client_id=svc-a", 401, "invalid_client", 25 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s.Advance(tc.later)
			defer s.Advance(-tc.later)
			var c *http.Client
			if tc.cert != nil {
				c = s.HTTPClient(*tc.cert)
			}
			r := s.Do(t, c, "POST", "/oauth2/token", tc.form, formType)
			if r.Status != tc.status || (tc.code != "" && r.ErrorCode() != tc.code) {
				t.Fatalf("%d %s, want %d %s", r.Status, r.Body, tc.status, tc.code)
			}
			if r.Status == 401 && r.Header.Get("WWW-Authenticate") == "" {
				t.Fatal("401 without a challenge")
			}
		})
	}
	t.Run("reject/JSON body", func(t *testing.T) {
		r := s.Do(t, a, "POST", "/oauth2/token", map[string]string{"grant_type": "client_credentials", "client_id": "svc-a"})
		if r.Status != 400 || r.ErrorCode() != "invalid_request" {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
	})
	t.Run("reject/GET", func(t *testing.T) {
		r := s.Do(t, a, "GET", "/oauth2/token", nil)
		if r.ErrorCode() != "invalid_request" || r.Status/100 != 4 || strings.Contains(string(r.Body), "access_token") {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
	})
}

func TestOAuth2LibraryClientCredentials(t *testing.T) {
	s := servertest.Start(t)
	s.CreateClient(t, "svc-m", "event.read", "event")
	cert, _ := s.Enroll(t, s.MintToken(t, "svc-m"))
	r := s.Admin(t, "POST", "/v1/clients", map[string]any{"client_id": "svc-s", "scope": "event.read", "audience": []string{"event"},
		"token_endpoint_auth_method": "client_secret_basic"})
	var sec struct {
		Secret string `json:"client_secret"`
	}
	r.JSON(t, &sec)

	for _, tc := range []struct {
		name string
		cfg  clientcredentials.Config
		hc   *http.Client
		bind string
	}{
		{"accept/mTLS client", clientcredentials.Config{ClientID: "svc-m", TokenURL: s.URL + "/oauth2/token",
			AuthStyle: oauth2.AuthStyleInParams, EndpointParams: url.Values{"audience": {"event"}}}, s.HTTPClient(cert), certs.X5tS256(cert.Leaf.Raw)},
		{"accept/client_secret_basic", clientcredentials.Config{ClientID: "svc-s", ClientSecret: sec.Secret, TokenURL: s.URL + "/oauth2/token",
			AuthStyle: oauth2.AuthStyleInHeader, Scopes: []string{"event.read"}}, s.HTTPClient(), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.WithValue(context.Background(), oauth2.HTTPClient, tc.hc)
			tok, err := tc.cfg.Token(ctx)
			if err != nil {
				t.Fatal(err)
			}
			cnf, _ := claimsOf(t, tok.AccessToken)["cnf"].(map[string]any)
			if tc.bind != "" && cnf["x5t#S256"] != tc.bind {
				t.Fatalf("not bound: %v", cnf)
			}
			if tc.bind == "" && cnf != nil {
				t.Fatalf("bound without a certificate: %v", cnf)
			}
		})
	}
	t.Run("reject/wrong secret", func(t *testing.T) {
		cfg := clientcredentials.Config{ClientID: "svc-s", ClientSecret: "cbs_wrong", TokenURL: s.URL + "/oauth2/token", AuthStyle: oauth2.AuthStyleInHeader}
		_, err := cfg.Token(context.WithValue(context.Background(), oauth2.HTTPClient, s.HTTPClient()))
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.ErrorCode != "invalid_client" || re.Response.StatusCode != 401 {
			t.Fatalf("%v", err)
		}
	})
}

func TestResourceServerVerifiesAcrossKeyRotation(t *testing.T) {
	s := servertest.Start(t)
	s.CreateClient(t, "svc", "event.create", "event")
	cert, _ := s.Enroll(t, s.MintToken(t, "svc"))
	other, _ := s.Enroll(t, s.MintToken(t, "svc"))
	c := s.HTTPClient(cert)
	ctx := context.Background()
	v, err := verify.New(ctx, verify.Config{Issuer: s.URL, Audience: "event", HTTPClient: s.HTTPClient(), MinRefreshInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := tokenOK(t, s, c, "grant_type=client_credentials&client_id=svc")
	if _, err := v.Verify(ctx, before, cert.Leaf); err != nil {
		t.Fatalf("fresh token: %v", err)
	}
	if _, err := v.Verify(ctx, before, other.Leaf); !errors.Is(err, verify.ErrBindingMismatch) {
		t.Fatalf("replay with another certificate of the same client: %v", err)
	}
	if _, err := v.Verify(ctx, before, nil); err == nil {
		t.Fatal("replay without a certificate accepted")
	}

	r := s.Admin(t, "POST", "/v1/keys/rotate", nil)
	var rot struct {
		KID string `json:"kid"`
	}
	r.JSON(t, &rot)
	after, _ := tokenOK(t, s, c, "grant_type=client_credentials&client_id=svc")
	hdr, _ := base64.RawURLEncoding.DecodeString(strings.Split(after, ".")[0])
	if !strings.Contains(string(hdr), rot.KID) {
		t.Fatalf("new token header %s lacks the new kid %s", hdr, rot.KID)
	}
	// The verifier learns the new key on the unknown kid, without a restart,
	// and the old key still verifies the old token.
	if _, err := v.Verify(ctx, after, cert.Leaf); err != nil {
		t.Fatalf("token from the new key: %v", err)
	}
	if _, err := v.Verify(ctx, before, cert.Leaf); err != nil {
		t.Fatalf("token from the retired key: %v", err)
	}
}

func TestMetadataAndIntrospection(t *testing.T) {
	s := servertest.Start(t)
	var md map[string]any
	s.Do(t, nil, "GET", "/.well-known/oauth-authorization-server", nil).JSON(t, &md)
	if md["issuer"] != s.URL || md["token_endpoint"] != s.URL+"/oauth2/token" || md["tls_client_certificate_bound_access_tokens"] != true {
		t.Fatalf("metadata %v", md)
	}
	if _, ok := md["response_types_supported"]; ok {
		t.Fatal("response_types_supported advertised without an authorization endpoint")
	}
	for k, v := range md {
		if l, ok := v.([]any); ok && len(l) == 0 {
			t.Fatalf("empty list %s", k)
		}
	}
	aliases, _ := md["mtls_endpoint_aliases"].(map[string]any)
	if aliases["token_endpoint"] == nil {
		t.Fatalf("mtls_endpoint_aliases %v", md["mtls_endpoint_aliases"])
	}
	var jwks struct {
		Keys []map[string]any `json:"keys"`
	}
	for _, path := range []string{"/.well-known/jwks.json", "/auth/jwt/jwks.json"} {
		s.Do(t, nil, "GET", path, nil).JSON(t, &jwks)
		if len(jwks.Keys) != 1 || jwks.Keys[0]["d"] != nil || jwks.Keys[0]["use"] != "sig" || jwks.Keys[0]["alg"] != "ES256" || jwks.Keys[0]["kid"] == nil {
			t.Fatalf("%s: %v", path, jwks)
		}
	}

	s.CreateClient(t, "svc", "event.create", "event")
	cert, _ := s.Enroll(t, s.MintToken(t, "svc"))
	tok, _ := tokenOK(t, s, s.HTTPClient(cert), "grant_type=client_credentials&client_id=svc")
	introspect := func(c *http.Client, form string, headers ...string) map[string]any {
		r := s.Do(t, c, "POST", "/oauth2/introspect", form, append(headers, formType)...)
		if r.Status != 200 {
			t.Fatalf("introspect: %d %s", r.Status, r.Body)
		}
		var m map[string]any
		r.JSON(t, &m)
		return m
	}
	m := introspect(nil, "token="+url.QueryEscape(tok), "Authorization: Bearer "+s.AdminKey)
	cnf, _ := m["cnf"].(map[string]any)
	if m["active"] != true || cnf["x5t#S256"] != certs.X5tS256(cert.Leaf.Raw) || m["client_id"] != "svc" {
		t.Fatalf("introspection %v", m)
	}
	// A client may introspect too (mTLS), and a dead token is just inactive.
	if m := introspect(s.HTTPClient(cert), "client_id=svc&token="+url.QueryEscape(tok+"x")); len(m) != 1 || m["active"] != false {
		t.Fatalf("tampered token: %v", m)
	}
	if r := s.Do(t, nil, "POST", "/oauth2/introspect", "token="+tok, formType); r.Status != 401 {
		t.Fatalf("anonymous introspection: %d", r.Status)
	}
}

func TestSelfSignedClient(t *testing.T) {
	s := servertest.Start(t)
	cert, leaf := catest.SelfSigned(t, "edge-device")
	otherCert, _ := catest.SelfSigned(t, "edge-device")
	r := s.Admin(t, "POST", "/v1/clients", map[string]any{"client_id": "edge-device", "scope": "telemetry.write", "audience": []string{"telemetry"},
		"token_endpoint_auth_method": "self_signed_tls_client_auth", "self_signed_certificates": []string{string(certs.EncodeCertificates(leaf))}})
	if r.Status != 201 {
		t.Fatalf("register: %d %s", r.Status, r.Body)
	}
	tok, _ := tokenOK(t, s, s.HTTPClient(cert), "grant_type=client_credentials&client_id=edge-device")
	cnf, _ := claimsOf(t, tok)["cnf"].(map[string]any)
	if cnf["x5t#S256"] != certs.X5tS256(leaf.Raw) {
		t.Fatalf("not bound to the registered certificate: %v", cnf)
	}
	r = s.Do(t, s.HTTPClient(otherCert), "POST", "/oauth2/token", "grant_type=client_credentials&client_id=edge-device", formType)
	if r.Status != 401 || r.ErrorCode() != "invalid_client" {
		t.Fatalf("unregistered self-signed certificate: %d %s", r.Status, r.Body)
	}
}
