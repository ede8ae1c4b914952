package tokenex_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.step.sm/crypto/jose"

	"github.com/certbound/certbound/ca/catest"
	"github.com/certbound/certbound/certs"
	"github.com/certbound/certbound/tokenex"
)

var clientIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// jwksFor returns an RFC 7591 "jwks" document whose keys carry the
// certificates in x5c.
func jwksFor(t testing.TB, list ...*x509.Certificate) json.RawMessage {
	t.Helper()
	var set jose.JSONWebKeySet
	for _, c := range list {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: c.PublicKey, Certificates: []*x509.Certificate{c}, Use: "sig"})
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func pemOf(c *x509.Certificate) string { return string(certs.EncodeCertificates(c)) }

func TestRegisterClient(t *testing.T) {
	f := newFixture(t)
	_, selfA := catest.SelfSigned(t, "self-a")
	_, selfB := catest.SelfSigned(t, "self-b")
	_, other := catest.SelfSigned(t, "other")
	mismatch := jwksFor(t, selfA)
	mismatch = bytes.Replace(mismatch, []byte(`"x5c":[`), []byte(`"x5c":["`+
		base64Std(other.Raw)+`",`), 1) // x5c[0] no longer holds the JWK's key
	privateJWKS := json.RawMessage(`{"keys":[{"kty":"EC","crv":"P-256","x":"x","y":"y","d":"d","x5c":["` + base64Std(selfA.Raw) + `"]}]}`)
	ttl := 10 * time.Minute

	tests := []struct {
		name    string
		spec    tokenex.ClientSpec
		wantErr error
		check   func(t *testing.T, c tokenex.Client, secretGiven bool)
	}{
		{name: "accept/tls-defaults", spec: tokenex.ClientSpec{ClientID: "svc-a", Scope: "event.read event.create", Audience: []string{"event"}},
			check: func(t *testing.T, c tokenex.Client, sec bool) {
				if c.TokenEndpointAuthMethod != tokenex.MethodTLSClientAuth || c.TLSClientAuthSANURI != "spiffe://certbound.local/svc-a" ||
					!slices.Equal(c.GrantTypes, []string{"client_credentials"}) || c.Scope() != "event.read event.create" || sec {
					t.Errorf("client = %+v, secret %v", c, sec)
				}
			}},
		{name: "accept/derived-id", spec: tokenex.ClientSpec{ClientName: "Task Service!", Scope: "event.create"},
			check: func(t *testing.T, c tokenex.Client, _ bool) {
				if c.ID != "task-service" || c.Name != "Task Service!" || c.TLSClientAuthSANURI != "spiffe://certbound.local/task-service" {
					t.Errorf("id %q name %q san %q", c.ID, c.Name, c.TLSClientAuthSANURI)
				}
			}},
		{name: "accept/derived-id-taken", spec: tokenex.ClientSpec{ClientName: "svc-a"},
			check: func(t *testing.T, c tokenex.Client, _ bool) {
				if !strings.HasPrefix(c.ID, "svc-a-") || !clientIDPattern.MatchString(c.ID) {
					t.Errorf("id %q, want svc-a-<suffix>", c.ID)
				}
			}},
		{name: "accept/derived-id-unicode", spec: tokenex.ClientSpec{ClientName: "  ..Über—Dienst  "},
			check: func(t *testing.T, c tokenex.Client, _ bool) {
				if !clientIDPattern.MatchString(c.ID) {
					t.Errorf("id %q", c.ID)
				}
			}},
		{name: "accept/secret-post", spec: tokenex.ClientSpec{ClientName: "TaskService", GrantTypes: []string{"client_credentials"},
			Scope: "event.create", Audience: []string{"event"}, TokenEndpointAuthMethod: tokenex.MethodClientSecretPost},
			check: func(t *testing.T, c tokenex.Client, sec bool) {
				if !sec || c.TLSClientAuthSANURI != "" || !c.HasSecret() {
					t.Errorf("secret %v, san %q", sec, c.TLSClientAuthSANURI)
				}
			}},
		{name: "accept/secret-basic", spec: tokenex.ClientSpec{ClientID: "svc-p", TokenEndpointAuthMethod: tokenex.MethodClientSecretBasic}},
		{name: "accept/custom-san-uri", spec: tokenex.ClientSpec{ClientID: "svc-c", TLSClientAuthSANURI: "spiffe://certbound.local/svc-a"}},
		{name: "accept/self-signed-pem", spec: tokenex.ClientSpec{ClientID: "svc-s", TokenEndpointAuthMethod: tokenex.MethodSelfSignedTLSClientAuth,
			SelfSignedCertificates: []string{pemOf(selfA), pemOf(selfA)}},
			check: func(t *testing.T, c tokenex.Client, _ bool) {
				if !slices.Equal(c.Thumbprints, []string{certs.X5tS256(selfA.Raw)}) || len(c.SelfSignedCertificates) != 1 {
					t.Errorf("thumbprints %v, %d certificates", c.Thumbprints, len(c.SelfSignedCertificates))
				}
			}},
		{name: "accept/self-signed-jwks-and-pem", spec: tokenex.ClientSpec{ClientID: "svc-s2", TokenEndpointAuthMethod: tokenex.MethodSelfSignedTLSClientAuth,
			SelfSignedCertificates: []string{pemOf(selfA)}, JWKS: jwksFor(t, selfB)},
			check: func(t *testing.T, c tokenex.Client, _ bool) {
				if !slices.Equal(c.Thumbprints, []string{certs.X5tS256(selfA.Raw), certs.X5tS256(selfB.Raw)}) {
					t.Errorf("thumbprints %v", c.Thumbprints)
				}
			}},
		{name: "accept/scope-runs-of-spaces", spec: tokenex.ClientSpec{ClientID: "svc-sp", Scope: "  a  b a "},
			check: func(t *testing.T, c tokenex.Client, _ bool) {
				if c.Scope() != "a b" {
					t.Errorf("scope %q", c.Scope())
				}
			}},
		{name: "accept/ttl", spec: tokenex.ClientSpec{ClientID: "svc-ttl", AccessTokenTTL: ttl},
			check: func(t *testing.T, c tokenex.Client, _ bool) {
				if c.AccessTokenTTL != ttl {
					t.Errorf("ttl %v", c.AccessTokenTTL)
				}
			}},
		{name: "accept/audience-uri", spec: tokenex.ClientSpec{ClientID: "svc-uri", Audience: []string{"https://rs.example/api", "event", "event"}},
			check: func(t *testing.T, c tokenex.Client, _ bool) {
				if !slices.Equal(c.Audience, []string{"https://rs.example/api", "event"}) {
					t.Errorf("audience %v", c.Audience)
				}
			}},

		{name: "reject/scope-quote", spec: tokenex.ClientSpec{ClientID: "r1", Scope: `a"b`}, wantErr: tokenex.ErrInvalidClientMetadata},
		{name: "reject/scope-backslash", spec: tokenex.ClientSpec{ClientID: "r1", Scope: `a\b`}, wantErr: tokenex.ErrInvalidClientMetadata},
		{name: "reject/scope-tab", spec: tokenex.ClientSpec{ClientID: "r1", Scope: "a\tb"}, wantErr: tokenex.ErrInvalidClientMetadata},
		{name: "reject/scope-non-ascii", spec: tokenex.ClientSpec{ClientID: "r1", Scope: "événement"}, wantErr: tokenex.ErrInvalidClientMetadata},
		{name: "reject/scope-control", spec: tokenex.ClientSpec{ClientID: "r1", Scope: "a\x7f"}, wantErr: tokenex.ErrInvalidClientMetadata},
		{name: "reject/two-tls-subject-params", spec: tokenex.ClientSpec{ClientID: "r1", TLSClientAuthSANURI: "spiffe://certbound.local/r1",
			TLSClientAuthSubjectDN: "CN=r1"}, wantErr: tokenex.ErrInvalidClientMetadata},
		{name: "reject/unsupported-tls-subject-param", spec: tokenex.ClientSpec{ClientID: "r1", TLSClientAuthSANDNS: "r1.example"},
			wantErr: tokenex.ErrInvalidClientMetadata},
		{name: "reject/tls-param-on-secret-method", spec: tokenex.ClientSpec{ClientID: "r1", TokenEndpointAuthMethod: tokenex.MethodClientSecretBasic,
			TLSClientAuthSANURI: "spiffe://certbound.local/r1"}, wantErr: tokenex.ErrInvalidClientMetadata},
		{name: "reject/san-uri-other-trust-domain", spec: tokenex.ClientSpec{ClientID: "r1", TLSClientAuthSANURI: "spiffe://evil.example/r1"},
			wantErr: tokenex.ErrInvalidClientMetadata},
		{name: "reject/san-uri-not-spiffe", spec: tokenex.ClientSpec{ClientID: "r1", TLSClientAuthSANURI: "https://certbound.local/r1"},
			wantErr: tokenex.ErrInvalidClientMetadata},
		{name: "reject/unknown-method", spec: tokenex.ClientSpec{ClientID: "r1", TokenEndpointAuthMethod: "mtls"}, wantErr: tokenex.ErrInvalidClientMetadata},
		{name: "reject/method-none", spec: tokenex.ClientSpec{ClientID: "r1", TokenEndpointAuthMethod: "none"}, wantErr: tokenex.ErrInvalidClientMetadata},
		{name: "reject/client-id-uppercase", spec: tokenex.ClientSpec{ClientID: "Svc"}, wantErr: tokenex.ErrInvalidClientMetadata},
		{name: "reject/client-id-leading-dash", spec: tokenex.ClientSpec{ClientID: "-svc"}, wantErr: tokenex.ErrInvalidClientMetadata},
		{name: "reject/client-id-64-bytes", spec: tokenex.ClientSpec{ClientID: strings.Repeat("a", 64)}, wantErr: tokenex.ErrInvalidClientMetadata},
		{name: "reject/client-id-slash", spec: tokenex.ClientSpec{ClientID: "a/b"}, wantErr: tokenex.ErrInvalidClientMetadata},
		{name: "reject/no-id-no-name", spec: tokenex.ClientSpec{Scope: "a"}, wantErr: tokenex.ErrInvalidClientMetadata},
		{name: "reject/ttl-over-max", spec: tokenex.ClientSpec{ClientID: "r1", AccessTokenTTL: tokenex.MaxTokenTTL + time.Second},
			wantErr: tokenex.ErrInvalidClientMetadata},
		{name: "reject/ttl-negative", spec: tokenex.ClientSpec{ClientID: "r1", AccessTokenTTL: -time.Second}, wantErr: tokenex.ErrInvalidClientMetadata},
		{name: "reject/ttl-sub-second", spec: tokenex.ClientSpec{ClientID: "r1", AccessTokenTTL: time.Millisecond}, wantErr: tokenex.ErrInvalidClientMetadata},
		{name: "reject/grant-password", spec: tokenex.ClientSpec{ClientID: "r1", GrantTypes: []string{"client_credentials", "password"}},
			wantErr: tokenex.ErrInvalidClientMetadata},
		{name: "reject/audience-is-issuer", spec: tokenex.ClientSpec{ClientID: "r1", Audience: []string{issuer}}, wantErr: tokenex.ErrInvalidClientMetadata},
		{name: "reject/audience-space", spec: tokenex.ClientSpec{ClientID: "r1", Audience: []string{"my api"}}, wantErr: tokenex.ErrInvalidClientMetadata},
		{name: "reject/audience-empty", spec: tokenex.ClientSpec{ClientID: "r1", Audience: []string{""}}, wantErr: tokenex.ErrInvalidClientMetadata},
		{name: "reject/name-control-char", spec: tokenex.ClientSpec{ClientName: "a\nb"}, wantErr: tokenex.ErrInvalidClientMetadata},
		{name: "reject/self-signed-no-cert", spec: tokenex.ClientSpec{ClientID: "r1", TokenEndpointAuthMethod: tokenex.MethodSelfSignedTLSClientAuth},
			wantErr: tokenex.ErrInvalidClientMetadata},
		{name: "reject/self-signed-not-pem", spec: tokenex.ClientSpec{ClientID: "r1", TokenEndpointAuthMethod: tokenex.MethodSelfSignedTLSClientAuth,
			SelfSignedCertificates: []string{"hello"}}, wantErr: tokenex.ErrInvalidClientMetadata},
		{name: "reject/self-signed-on-tls-method", spec: tokenex.ClientSpec{ClientID: "r1", SelfSignedCertificates: []string{pemOf(selfA)}},
			wantErr: tokenex.ErrInvalidClientMetadata},
		{name: "reject/jwks-uri", spec: tokenex.ClientSpec{ClientID: "r1", TokenEndpointAuthMethod: tokenex.MethodSelfSignedTLSClientAuth,
			JWKSURI: "https://example.com/jwks"}, wantErr: tokenex.ErrInvalidClientMetadata},
		{name: "reject/jwks-and-jwks-uri", spec: tokenex.ClientSpec{ClientID: "r1", TokenEndpointAuthMethod: tokenex.MethodSelfSignedTLSClientAuth,
			JWKS: jwksFor(t, selfA), JWKSURI: "https://example.com/jwks"}, wantErr: tokenex.ErrInvalidClientMetadata},
		{name: "reject/jwks-without-x5c", spec: tokenex.ClientSpec{ClientID: "r1", TokenEndpointAuthMethod: tokenex.MethodSelfSignedTLSClientAuth,
			JWKS: json.RawMessage(`{"keys":[{"kty":"EC","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}]}`)},
			wantErr: tokenex.ErrInvalidClientMetadata},
		{name: "reject/jwks-key-x5c-mismatch", spec: tokenex.ClientSpec{ClientID: "r1", TokenEndpointAuthMethod: tokenex.MethodSelfSignedTLSClientAuth,
			JWKS: mismatch}, wantErr: tokenex.ErrInvalidClientMetadata},
		{name: "reject/jwks-private-key", spec: tokenex.ClientSpec{ClientID: "r1", TokenEndpointAuthMethod: tokenex.MethodSelfSignedTLSClientAuth,
			JWKS: privateJWKS}, wantErr: tokenex.ErrInvalidClientMetadata},
		{name: "reject/jwks-not-a-set", spec: tokenex.ClientSpec{ClientID: "r1", TokenEndpointAuthMethod: tokenex.MethodSelfSignedTLSClientAuth,
			JWKS: json.RawMessage(`[1,2]`)}, wantErr: tokenex.ErrInvalidClientMetadata},
		{name: "reject/duplicate-id", spec: tokenex.ClientSpec{ClientID: "svc-a"}, wantErr: tokenex.ErrConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, sec, err := f.svc.RegisterClient(t.Context(), tt.spec)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("RegisterClient error = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				checkDescription(t, err)
				return
			}
			if !clientIDPattern.MatchString(c.ID) {
				t.Errorf("client id %q does not match the pattern", c.ID)
			}
			if c.HasSecret() != !sec.IsZero() || (!sec.IsZero() && !strings.HasPrefix(sec.Reveal(), tokenex.SecretPrefix)) {
				t.Errorf("method %s with secret given = %v", c.TokenEndpointAuthMethod, !sec.IsZero())
			}
			got, err := f.svc.GetClient(t.Context(), c.ID)
			if err != nil {
				t.Fatalf("GetClient: %v", err)
			}
			if got.ID != c.ID || got.Scope() != c.Scope() || !slices.Equal(got.Thumbprints, c.Thumbprints) ||
				got.TLSClientAuthSANURI != c.TLSClientAuthSANURI || !slices.Equal(got.SelfSignedCertificates, c.SelfSignedCertificates) {
				t.Errorf("GetClient = %+v, RegisterClient gave %+v", got, c)
			}
			if tt.check != nil {
				tt.check(t, c, !sec.IsZero())
			}
		})
	}
}

// checkDescription asserts RFC 6749 §5.2's character set for
// error_description, and that the error is an *Error.
func checkDescription(t *testing.T, err error) {
	t.Helper()
	var e *tokenex.Error
	if !errors.As(err, &e) {
		if errors.Is(err, tokenex.ErrConflict) || errors.Is(err, tokenex.ErrNotFound) {
			return
		}
		t.Fatalf("error %v is not a *tokenex.Error", err)
	}
	if e.Description == "" || !regexp.MustCompile(`^[\x20\x21\x23-\x5B\x5D-\x7E]*$`).MatchString(e.Description) {
		t.Errorf("error_description %q is empty or outside RFC 6749 section 5.2's character set", e.Description)
	}
}

func TestRegisterExpiredSelfSigned(t *testing.T) {
	f := newFixture(t)
	_, self := catest.SelfSigned(t, "self")
	f.clock.Advance(2 * time.Hour) // SelfSigned certificates live an hour
	_, _, err := f.svc.RegisterClient(t.Context(), tokenex.ClientSpec{ClientID: "svc-s",
		TokenEndpointAuthMethod: tokenex.MethodSelfSignedTLSClientAuth, SelfSignedCertificates: []string{pemOf(self)}})
	if !errors.Is(err, tokenex.ErrInvalidClientMetadata) {
		t.Fatalf("RegisterClient with an expired certificate: %v, want invalid_client_metadata", err)
	}
}

func TestClientLifecycle(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	for _, id := range []string{"c", "a", "b", "d"} {
		f.register(t, tokenex.ClientSpec{ClientID: id, Scope: "s1", Audience: []string{"event"}})
	}
	t.Run("accept/list-pages", func(t *testing.T) {
		var ids []string
		after := ""
		for {
			page, err := f.svc.ListClients(ctx, after, 3)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			for _, c := range page {
				ids = append(ids, c.ID)
			}
			after = page[len(page)-1].ID
		}
		if !slices.Equal(ids, []string{"a", "b", "c", "d"}) {
			t.Fatalf("listed %v", ids)
		}
	})
	t.Run("accept/update", func(t *testing.T) {
		scope, aud, disabled, ttl, name := "s1 s2", []string{"billing", "event"}, true, 5*time.Minute, "Client A"
		c, err := f.svc.UpdateClient(ctx, "a", tokenex.ClientPatch{Scope: &scope, Audience: &aud, Disabled: &disabled,
			AccessTokenTTL: &ttl, ClientName: &name})
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.svc.GetClient(ctx, "a")
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range []tokenex.Client{c, got} {
			if v.Scope() != scope || !slices.Equal(v.Audience, aud) || !v.Disabled || v.AccessTokenTTL != ttl || v.Name != name {
				t.Errorf("after update: %+v", v)
			}
		}
	})
	t.Run("reject/update-bad-scope", func(t *testing.T) {
		bad := `x"y`
		if _, err := f.svc.UpdateClient(ctx, "b", tokenex.ClientPatch{Scope: &bad}); !errors.Is(err, tokenex.ErrInvalidClientMetadata) {
			t.Fatalf("UpdateClient: %v", err)
		}
		over := tokenex.MaxTokenTTL * 2
		if _, err := f.svc.UpdateClient(ctx, "b", tokenex.ClientPatch{AccessTokenTTL: &over}); !errors.Is(err, tokenex.ErrInvalidClientMetadata) {
			t.Fatalf("UpdateClient: %v", err)
		}
	})
	t.Run("reject/update-unknown", func(t *testing.T) {
		if _, err := f.svc.UpdateClient(ctx, "nobody", tokenex.ClientPatch{}); !errors.Is(err, tokenex.ErrNotFound) {
			t.Fatalf("UpdateClient: %v", err)
		}
	})
	t.Run("accept/delete", func(t *testing.T) {
		if err := f.svc.DeleteClient(ctx, "d"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.GetClient(ctx, "d"); !errors.Is(err, tokenex.ErrNotFound) {
			t.Fatalf("GetClient after delete: %v", err)
		}
		if err := f.svc.DeleteClient(ctx, "d"); !errors.Is(err, tokenex.ErrNotFound) {
			t.Fatalf("second DeleteClient: %v", err)
		}
	})
	t.Run("reject/rotate-secret-of-mtls-client", func(t *testing.T) {
		if _, err := f.svc.RotateClientSecret(ctx, "c"); !errors.Is(err, tokenex.ErrInvalidClientMetadata) {
			t.Fatalf("RotateClientSecret: %v", err)
		}
	})
}

// TestSecretNeverStoredInClear greps every file of the database for the
// secret and finds only its hash.
func TestSecretNeverStoredInClear(t *testing.T) {
	f := newFixture(t)
	_, sec := f.register(t, tokenex.ClientSpec{ClientID: "svc-p", TokenEndpointAuthMethod: tokenex.MethodClientSecretBasic})
	rotated, err := f.svc.RotateClientSecret(t.Context(), "svc-p")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.GetClient(context.Background(), "svc-p"); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(f.db.Path() + "*") // the database, -wal and -shm
	if len(files) == 0 {
		t.Fatal("no database files")
	}
	foundHash := false
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{sec.Reveal(), rotated.Reveal()} {
			if bytes.Contains(b, []byte(s)) || bytes.Contains(b, []byte(strings.TrimPrefix(s, tokenex.SecretPrefix))) {
				t.Errorf("%s holds a client secret in clear", filepath.Base(name))
			}
		}
		foundHash = foundHash || bytes.Contains(b, rotated.Hash())
	}
	if !foundHash {
		t.Error("the secret's hash is in no database file: the grep looked in the wrong place")
	}
}

// Concurrent changes of a client never undo each other: two PATCHes of
// different fields both land, and a disable (as clone detection makes it,
// straight in the database) is never reverted by a PATCH that read the
// record before it.
func TestConcurrentClientChangesAreNotLost(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	f.register(t, tokenex.ClientSpec{ClientID: "svc", Scope: "s0", Audience: []string{"event"}})
	for i := range 100 {
		name, scope := fmt.Sprintf("name-%d", i), fmt.Sprintf("s%d", i)
		var wg sync.WaitGroup
		errs := make(chan error, 3)
		wg.Add(3)
		go func() {
			defer wg.Done()
			_, err := f.svc.UpdateClient(ctx, "svc", tokenex.ClientPatch{ClientName: &name})
			errs <- err
		}()
		go func() {
			defer wg.Done()
			_, err := f.svc.UpdateClient(ctx, "svc", tokenex.ClientPatch{Scope: &scope})
			errs <- err
		}()
		go func() {
			defer wg.Done()
			errs <- f.db.DisableClient(ctx, "svc", f.clock.Now())
		}()
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		got, err := f.svc.GetClient(ctx, "svc")
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != name || got.Scope() != scope || !got.Disabled {
			t.Fatalf("round %d: name %q, scope %q, disabled %v; want %q, %q, true (a change was lost)", i, got.Name, got.Scope(), got.Disabled, name, scope)
		}
		off := false
		if _, err := f.svc.UpdateClient(ctx, "svc", tokenex.ClientPatch{Disabled: &off}); err != nil {
			t.Fatal(err)
		}
	}
}
