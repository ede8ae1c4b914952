package verify_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/certbound/certbound/tokenex/verify"
)

// TestUnknownKeyRefetchIsRateLimited: an unknown kid triggers one JWKS fetch;
// more unknown kids within MinRefreshInterval trigger none.
func TestUnknownKeyRefetchIsRateLimited(t *testing.T) {
	as := newAuthServer(t, newECKey(t))
	c := newClock()
	v := newVerifier(t, as, c, func(cfg *verify.Config) { cfg.AllowUnbound = true })
	if n := as.jwksFetches.Load(); n != 1 {
		t.Fatalf("New fetched the JWKS %d times, want 1", n)
	}
	unknown := func(kid string) string {
		tok := as.newToken(c.Now(), nil)
		tok.header["kid"] = kid
		return as.sign(t, tok)
	}
	c.Advance(verify.DefaultMinRefreshInterval)
	for i, kid := range []string{"k1", "k2", "k1", "k3"} {
		if _, err := v.Verify(t.Context(), unknown(kid), nil); !errors.Is(err, verify.ErrUnknownKey) {
			t.Fatalf("Verify(kid %s) error = %v, want ErrUnknownKey", kid, err)
		}
		if n := as.jwksFetches.Load(); n != 2 {
			t.Fatalf("after %d unknown kids the JWKS was fetched %d times, want 2", i+1, n)
		}
		c.Advance(time.Second)
	}
	c.Advance(verify.DefaultMinRefreshInterval)
	if _, err := v.Verify(t.Context(), unknown("k4"), nil); !errors.Is(err, verify.ErrUnknownKey) {
		t.Fatalf("Verify(k4) error = %v, want ErrUnknownKey", err)
	}
	if n := as.jwksFetches.Load(); n != 3 {
		t.Fatalf("after MinRefreshInterval the JWKS was fetched %d times, want 3", n)
	}
}

// TestKeyRotation: the authorization server publishes a second key and signs
// with it; the verifier learns it from the unknown kid, without a restart,
// and keeps accepting the old key while it is published. Once the old key is
// retired and the periodic refresh has run, its tokens are refused.
func TestKeyRotation(t *testing.T) {
	oldKey, newKey := newECKey(t), newECKey(t)
	as := newAuthServer(t, oldKey)
	c := newClock()
	v := newVerifier(t, as, c, nil)
	cert := newClientCert(t, "svc-a")

	oldToken := as.mint(t, c.Now(), cert.leaf)
	as.publish(newKey)
	as.signWith(newKey)
	c.Advance(verify.DefaultMinRefreshInterval)
	newToken := as.mint(t, c.Now(), cert.leaf)

	if _, err := v.Verify(t.Context(), newToken, cert.leaf); err != nil {
		t.Fatalf("token from the new key: %v", err)
	}
	if n := as.jwksFetches.Load(); n != 2 {
		t.Errorf("JWKS fetched %d times, want 2 (start, unknown kid)", n)
	}
	if _, err := v.Verify(t.Context(), oldToken, cert.leaf); err != nil {
		t.Fatalf("token from the old, still published key: %v", err)
	}

	as.retire(oldKey)
	c.Advance(verify.DefaultRefreshInterval)
	_, _ = v.Verify(t.Context(), newToken, cert.leaf) // starts the periodic refresh
	waitFor(t, func() bool { return as.jwksFetches.Load() == 3 })
	waitFor(t, func() bool {
		_, err := v.Verify(t.Context(), oldToken, cert.leaf)
		return errors.Is(err, verify.ErrUnknownKey)
	})
	if _, err := v.Verify(t.Context(), newToken, cert.leaf); err != nil {
		t.Fatalf("token from the new key after the refresh: %v", err)
	}
}

// TestPeriodicRefresh: with an injected clock, a request after
// RefreshInterval refreshes the JWKS in the background, so a key published
// meanwhile is known without an unknown-kid fetch (which MinRefreshInterval
// forbids here).
func TestPeriodicRefresh(t *testing.T) {
	as := newAuthServer(t, newECKey(t))
	c := newClock()
	v := newVerifier(t, as, c, func(cfg *verify.Config) {
		cfg.RefreshInterval = time.Minute
		cfg.MinRefreshInterval = 30 * time.Second
	})
	cert := newClientCert(t, "svc-a")
	first := as.mint(t, c.Now(), cert.leaf)

	c.Advance(59 * time.Second)
	if _, err := v.Verify(t.Context(), first, cert.leaf); err != nil {
		t.Fatal(err)
	}
	if n := as.jwksFetches.Load(); n != 1 {
		t.Fatalf("JWKS fetched %d times before RefreshInterval, want 1", n)
	}

	second := newECKey(t)
	as.publish(second)
	c.Advance(time.Second)
	if _, err := v.Verify(t.Context(), first, cert.leaf); err != nil { // stale: refreshes
		t.Fatal(err)
	}
	waitFor(t, func() bool { return as.jwksFetches.Load() == 2 })

	as.signWith(second)
	c.Advance(time.Second) // well within MinRefreshInterval: no unknown-kid fetch allowed
	tok := as.mint(t, c.Now(), cert.leaf)
	waitFor(t, func() bool {
		_, err := v.Verify(t.Context(), tok, cert.leaf)
		return err == nil
	})
	if n := as.jwksFetches.Load(); n != 2 {
		t.Errorf("JWKS fetched %d times, want 2", n)
	}
}

// TestRefreshFailureKeepsKeys: a failing JWKS endpoint does not make known
// keys unusable.
func TestRefreshFailureKeepsKeys(t *testing.T) {
	key := newECKey(t)
	as := newAuthServer(t, key)
	c := newClock()
	v := newVerifier(t, as, c, nil)
	cert := newClientCert(t, "svc-a")
	tok := as.mint(t, c.Now(), cert.leaf)
	as.retire(key) // the JWKS is now empty: a refresh fails to parse
	c.Advance(verify.DefaultRefreshInterval)
	if _, err := v.Verify(t.Context(), tok, cert.leaf); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return as.jwksFetches.Load() == 2 })
	c.Advance(time.Second)
	if _, err := v.Verify(t.Context(), tok, cert.leaf); err != nil {
		t.Fatalf("after a failed refresh: %v", err)
	}
}

// waitFor polls cond until it holds, for background refreshes.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestNew(t *testing.T) {
	as := newAuthServer(t, newECKey(t))
	jwksURL := as.URL() + "/.well-known/jwks.json"
	tests := []struct {
		name    string
		edit    func(*verify.Config)
		wantErr error
	}{
		{"accept/discovery", nil, nil},
		{"accept/explicit-jwks-url", func(c *verify.Config) { c.JWKSURL = jwksURL }, nil},
		{"accept/explicit-jwks-url-non-url-issuer", func(c *verify.Config) { c.JWKSURL, c.Issuer = jwksURL, "certbound" }, nil},
		{"reject/no-issuer", func(c *verify.Config) { c.Issuer = "" }, verify.ErrConfig},
		{"reject/no-audience", func(c *verify.Config) { c.Audience = "" }, verify.ErrConfig},
		{"reject/http-issuer", func(c *verify.Config) { c.Issuer = strings.Replace(c.Issuer, "https", "http", 1) }, verify.ErrConfig},
		{"reject/http-jwks-url", func(c *verify.Config) { c.JWKSURL = strings.Replace(jwksURL, "https", "http", 1) }, verify.ErrConfig},
		{"reject/negative-leeway", func(c *verify.Config) { c.Leeway = -time.Second }, verify.ErrConfig},
		{"reject/realm-with-quote", func(c *verify.Config) { c.Realm = `a"b` }, verify.ErrConfig},
		{"reject/proxy-without-from", func(c *verify.Config) { c.TrustedProxy = &verify.TrustedProxy{Header: "Client-Cert"} }, verify.ErrConfig},
		{"reject/issuer-trailing-slash", func(c *verify.Config) { c.Issuer += "/" }, verify.ErrMetadata},
		{"reject/issuer-with-path", func(c *verify.Config) { c.Issuer += "/tenant" }, verify.ErrMetadata},
		{"reject/jwks-404", func(c *verify.Config) { c.JWKSURL = as.URL() + "/nothing" }, verify.ErrJWKS},
		{"reject/jwks-not-jwks", func(c *verify.Config) {
			c.JWKSURL = as.URL() + "/.well-known/oauth-authorization-server"
		}, verify.ErrJWKS},
		{"reject/untrusted-tls", func(c *verify.Config) { c.HTTPClient = nil }, verify.ErrMetadata},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := verify.Config{Issuer: as.URL(), Audience: "event", HTTPClient: as.srv.Client()}
			if tt.edit != nil {
				tt.edit(&cfg)
			}
			_, err := verify.New(t.Context(), cfg)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("New() error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// TestNewMetadataIssuerMismatch: metadata that names another issuer is refused
// (RFC 8414 §3.3).
func TestNewMetadataIssuerMismatch(t *testing.T) {
	as := newAuthServer(t, newECKey(t))
	as.setMetadataIssuer("https://evil.example")
	_, err := verify.New(t.Context(), verify.Config{Issuer: as.URL(), Audience: "event", HTTPClient: as.srv.Client()})
	if !errors.Is(err, verify.ErrMetadata) {
		t.Fatalf("New() error = %v, want ErrMetadata", err)
	}
	if n := as.jwksFetches.Load(); n != 0 {
		t.Errorf("JWKS fetched %d times after a metadata mismatch, want 0", n)
	}
}

// TestNewIssuerWithPath: for an issuer with a path, the RFC 8414 §3.1
// location comes first, then the appended one.
func TestNewIssuerWithPath(t *testing.T) {
	key := newECKey(t)
	var paths []string
	var srv *httptest.Server
	srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.Path)
		switch r.URL.Path {
		case "/tenant/.well-known/oauth-authorization-server":
			writeJSON(w, map[string]string{"issuer": srv.URL + "/tenant", "jwks_uri": srv.URL + "/tenant/jwks"})
		case "/tenant/jwks":
			writeJSON(w, map[string]any{"keys": []map[string]string{key.jwk}})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	_, err := verify.New(t.Context(), verify.Config{Issuer: srv.URL + "/tenant", Audience: "event", HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	want := "/.well-known/oauth-authorization-server/tenant /tenant/.well-known/oauth-authorization-server /tenant/jwks"
	if got := strings.Join(paths, " "); got != want {
		t.Errorf("requests = %s, want %s", got, want)
	}
}
