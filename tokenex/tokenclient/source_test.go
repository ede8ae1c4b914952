package tokenclient_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/certbound/certbound/certs"
	"github.com/certbound/certbound/certs/secret"
	"github.com/certbound/certbound/tokenex/tokenclient"
)

// Compile-time check: a Source is an oauth2.TokenSource.
var _ oauth2.TokenSource = (*tokenclient.Source)(nil)

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// mtlsFixture is a token server plus the mTLS client "svc-a" of it.
type mtlsFixture struct {
	ts    *tokenServer
	cert  atomic.Pointer[tls.Certificate]
	clock *clock
}

func newMTLSFixture(t *testing.T) *mtlsFixture {
	t.Helper()
	ca := newTestCA(t)
	f := &mtlsFixture{ts: newTokenServer(t, ca), clock: newClock()}
	c := ca.clientCert(t, "svc-a")
	f.cert.Store(&c)
	return f
}

func (f *mtlsFixture) config() tokenclient.Config {
	return tokenclient.Config{
		TokenURL:    f.ts.URL,
		ClientID:    "svc-a",
		Scopes:      []string{"event.read", "event.create"},
		Audience:    "event",
		HTTPClient:  f.ts.client(&f.cert),
		Certificate: func() *x509.Certificate { return f.cert.Load().Leaf },
		Now:         f.clock.Now,
	}
}

func mustNew(t *testing.T, cfg tokenclient.Config) *tokenclient.Source {
	t.Helper()
	s, err := tokenclient.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func mustToken(t *testing.T, s *tokenclient.Source) *oauth2.Token {
	t.Helper()
	tok, err := s.TokenContext(t.Context())
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	return tok
}

func TestSourceWireFormat(t *testing.T) {
	t.Parallel()
	f := newMTLSFixture(t)
	tok := mustToken(t, mustNew(t, f.config()))

	reqs := f.ts.requests()
	if len(reqs) != 1 {
		t.Fatalf("server saw %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	want := map[string]string{
		"grant_type": "client_credentials",
		"client_id":  "svc-a", // RFC 8705 §2: required with mTLS client authentication
		"scope":      "event.read event.create",
		"audience":   "event",
	}
	for k, v := range want {
		if got := r.form.Get(k); got != v {
			t.Errorf("form %s = %q, want %q", k, got, v)
		}
	}
	if len(r.form) != len(want) {
		t.Errorf("form has %d parameters (%v), want exactly %d", len(r.form), r.form, len(want))
	}
	if r.basicUser != "" {
		t.Errorf("an mTLS client sent an Authorization header (user %q)", r.basicUser)
	}
	if r.x5t != certs.X5tS256(f.cert.Load().Leaf.Raw) {
		t.Errorf("request did not present the client certificate")
	}
	if tok.AccessToken != r.token || tok.TokenType != "Bearer" {
		t.Errorf("token = %q %q, want %q Bearer", tok.AccessToken, tok.TokenType, r.token)
	}
	if want := f.clock.Now().Add(time.Hour); !tok.Expiry.Equal(want) {
		t.Errorf("Expiry = %s, want %s", tok.Expiry, want)
	}
	if got := tok.Extra("scope"); got != "event.read" {
		t.Errorf("Extra(scope) = %v, want the granted scope", got)
	}
}

func TestSourceClientSecret(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		style     oauth2.AuthStyle
		wantBasic bool
	}{
		{"accept/basic-by-default", oauth2.AuthStyleAutoDetect, true},
		{"accept/basic", oauth2.AuthStyleInHeader, true},
		{"accept/post", oauth2.AuthStyleInParams, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := newTokenServer(t, newTestCA(t))
			s := mustNew(t, tokenclient.Config{
				TokenURL:     ts.URL,
				ClientID:     "svc-p",
				ClientSecret: secret.FromString(pSecret),
				AuthStyle:    tt.style,
				Resource:     "https://events.internal/",
				HTTPClient:   ts.client(nil),
			})
			mustToken(t, s)
			r := ts.requests()[0]
			if got := r.basicUser != ""; got != tt.wantBasic {
				t.Errorf("Basic header sent: %v, want %v", got, tt.wantBasic)
			}
			if got := r.form.Has("client_secret"); got == tt.wantBasic {
				t.Errorf("client_secret in the body: %v, want %v (one method per request, RFC 6749 §2.3)", got, !tt.wantBasic)
			}
			if got := r.form.Get("resource"); got != "https://events.internal/" {
				t.Errorf("resource = %q", got)
			}
			if r.form.Has("audience") {
				t.Errorf("audience sent although only Resource is set")
			}
		})
	}
}

func TestSourceCaches(t *testing.T) {
	t.Parallel()
	f := newMTLSFixture(t)
	s := mustNew(t, f.config())
	first := mustToken(t, s)
	first.AccessToken = "modified by the caller"
	second := mustToken(t, s)
	if n := len(f.ts.requests()); n != 1 {
		t.Fatalf("server saw %d requests for two Token calls, want 1", n)
	}
	if second.AccessToken != "at-1" {
		t.Errorf("cached token = %q, want at-1 (a caller's change must not reach the cache)", second.AccessToken)
	}
}

func TestSourceRefreshesBeforeExpiry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		expiresIn   int64
		earlyExpiry time.Duration
		fresh       time.Duration // still cached this long after the fetch
		stale       time.Duration // refetched this long after
	}{
		{"accept/short-token-10-percent", 100, 0, 89 * time.Second, 91 * time.Second},
		{"accept/long-token-60-seconds", 3600, 0, 3539 * time.Second, 3541 * time.Second},
		{"accept/configured-early-expiry", 100, 30 * time.Second, 69 * time.Second, 71 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newMTLSFixture(t)
			f.ts.set(func(ts *tokenServer) { ts.expiresIn = tt.expiresIn })
			cfg := f.config()
			cfg.EarlyExpiry = tt.earlyExpiry
			s := mustNew(t, cfg)
			mustToken(t, s)
			f.clock.advance(tt.fresh)
			if tok := mustToken(t, s); tok.AccessToken != "at-1" {
				t.Fatalf("after %s: token %s, want the cached at-1", tt.fresh, tok.AccessToken)
			}
			f.clock.advance(tt.stale - tt.fresh)
			if tok := mustToken(t, s); tok.AccessToken != "at-2" {
				t.Fatalf("after %s: token %s, want a new at-2", tt.stale, tok.AccessToken)
			}
			if n := len(f.ts.requests()); n != 2 {
				t.Fatalf("server saw %d requests, want 2", n)
			}
		})
	}
}

// TestSourceCertificateRotation: a token bound to the old certificate is
// never returned after the certificate changed (RFC 8705 §6.3), and the new
// one is requested with the new certificate.
func TestSourceCertificateRotation(t *testing.T) {
	t.Parallel()
	f := newMTLSFixture(t)
	s := mustNew(t, f.config())
	old := mustToken(t, s)

	renewed := f.ts.ca.clientCert(t, "svc-a")
	f.cert.Store(&renewed)
	tok := mustToken(t, s)
	if tok.AccessToken == old.AccessToken {
		t.Fatal("returned the token bound to the old certificate")
	}
	reqs := f.ts.requests()
	if len(reqs) != 2 {
		t.Fatalf("server saw %d requests, want 2", len(reqs))
	}
	if want := certs.X5tS256(renewed.Leaf.Raw); reqs[1].x5t != want {
		t.Fatalf("new token requested with certificate %s, want the renewed %s", reqs[1].x5t, want)
	}
	if again := mustToken(t, s); again.AccessToken != tok.AccessToken {
		t.Errorf("token for the renewed certificate was not cached")
	}
}

func TestSourceErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		setup      func(f *mtlsFixture, cfg *tokenclient.Config)
		wantErr    error
		wantStatus int // of the *Error, if any
	}{
		{
			name: "reject/invalid-client-wrong-client-id",
			setup: func(_ *mtlsFixture, cfg *tokenclient.Config) {
				cfg.ClientID = "svc-b"
			},
			wantErr: tokenclient.ErrInvalidClient, wantStatus: http.StatusUnauthorized,
		},
		{
			name: "reject/invalid-client-no-certificate",
			setup: func(f *mtlsFixture, cfg *tokenclient.Config) {
				cfg.HTTPClient = f.ts.client(nil)
			},
			wantErr: tokenclient.ErrInvalidClient, wantStatus: http.StatusUnauthorized,
		},
		{
			name: "reject/invalid-scope",
			setup: func(f *mtlsFixture, _ *tokenclient.Config) {
				f.ts.failNext(tokenFailure{status: 400, body: `{"error":"invalid_scope","error_description":"scope billing.read not allowed"}`})
			},
			wantErr: tokenclient.ErrInvalidScope, wantStatus: http.StatusBadRequest,
		},
		{
			name: "reject/invalid-target",
			setup: func(f *mtlsFixture, _ *tokenclient.Config) {
				f.ts.failNext(tokenFailure{status: 400, body: `{"error":"invalid_target"}`})
			},
			wantErr: tokenclient.ErrInvalidTarget, wantStatus: http.StatusBadRequest,
		},
		{
			name: "reject/not-json-error",
			setup: func(f *mtlsFixture, _ *tokenclient.Config) {
				f.ts.failNext(tokenFailure{status: 502, body: `<html>bad gateway</html>`})
			},
			wantStatus: http.StatusBadGateway,
		},
		{
			name: "reject/error-in-a-200",
			setup: func(f *mtlsFixture, _ *tokenclient.Config) {
				f.ts.failNext(tokenFailure{status: 200, body: `{"error":"invalid_client"}`})
			},
			wantErr: tokenclient.ErrBadResponse,
		},
		{
			name: "reject/dpop-token",
			setup: func(f *mtlsFixture, _ *tokenclient.Config) {
				f.ts.set(func(ts *tokenServer) { ts.tokenType = "DPoP" })
			},
			wantErr: tokenclient.ErrUnsupportedTokenType,
		},
		{
			name: "reject/no-expires-in",
			setup: func(f *mtlsFixture, _ *tokenclient.Config) {
				f.ts.failNext(tokenFailure{status: 200, body: `{"access_token":"at-x","token_type":"Bearer"}`})
			},
			wantErr: tokenclient.ErrBadResponse,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newMTLSFixture(t)
			cfg := f.config()
			tt.setup(f, &cfg)
			_, err := mustNew(t, cfg).TokenContext(t.Context())
			if err == nil {
				t.Fatal("Token succeeded, want an error")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("Token error = %v, want %v", err, tt.wantErr)
			}
			var te *tokenclient.Error
			if tt.wantStatus != 0 && (!errors.As(err, &te) || te.Status != tt.wantStatus) {
				t.Fatalf("Token error = %v, want *Error with status %d", err, tt.wantStatus)
			}
			if strings.Contains(err.Error(), "at-") {
				t.Errorf("error quotes a token: %v", err)
			}
		})
	}
}

// TestSourceRetryAfter: after a 429 the Source does not ask again before
// Retry-After has passed, and a refresh that fails keeps serving the
// still-valid token.
func TestSourceRetryAfter(t *testing.T) {
	t.Parallel()
	f := newMTLSFixture(t)
	f.ts.set(func(ts *tokenServer) { ts.expiresIn = 100 })
	s := mustNew(t, f.config())
	mustToken(t, s)

	f.clock.advance(95 * time.Second) // inside the early-expiry window
	f.ts.failNext(tokenFailure{status: 429, body: `{"error":"rate_limited"}`, retryAfter: "30"})
	if tok := mustToken(t, s); tok.AccessToken != "at-1" {
		t.Fatalf("failed refresh returned %s, want the still-valid at-1", tok.AccessToken)
	}
	f.clock.advance(10 * time.Second) // token expired, Retry-After not yet passed
	_, err := s.TokenContext(t.Context())
	var te *tokenclient.Error
	if !errors.As(err, &te) || te.Status != http.StatusTooManyRequests || te.RetryAfter != 30*time.Second {
		t.Fatalf("Token error = %v, want the 429 *Error", err)
	}
	if n := len(f.ts.requests()); n != 2 {
		t.Fatalf("server saw %d requests, want 2 (none during Retry-After)", n)
	}
	f.clock.advance(21 * time.Second)
	if tok := mustToken(t, s); tok.AccessToken != "at-2" {
		t.Fatalf("after Retry-After: token %s, want at-2", tok.AccessToken)
	}
}

// TestSourceOneFetchAtATime: many goroutines asking at once cause one request.
func TestSourceOneFetchAtATime(t *testing.T) {
	t.Parallel()
	f := newMTLSFixture(t)
	f.ts.set(func(ts *tokenServer) { ts.delay = 50 * time.Millisecond })
	s := mustNew(t, f.config())
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := s.Token(); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := len(f.ts.requests()); n != 1 {
		t.Fatalf("server saw %d requests from 20 goroutines, want 1", n)
	}
}

// TestSourceContext: a caller waiting for another goroutine's fetch gives up
// when its context ends.
func TestSourceContext(t *testing.T) {
	t.Parallel()
	f := newMTLSFixture(t)
	f.ts.set(func(ts *tokenServer) { ts.delay = 300 * time.Millisecond })
	s := mustNew(t, f.config())
	go s.Token()
	time.Sleep(50 * time.Millisecond) // let the first fetch start
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if _, err := s.TokenContext(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("TokenContext error = %v, want context.DeadlineExceeded", err)
	}
}

func TestSourceInvalidate(t *testing.T) {
	t.Parallel()
	f := newMTLSFixture(t)
	s := mustNew(t, f.config())
	mustToken(t, s)
	s.Invalidate()
	if tok := mustToken(t, s); tok.AccessToken != "at-2" {
		t.Fatalf("after Invalidate: %s, want at-2", tok.AccessToken)
	}
}

func TestNewRejects(t *testing.T) {
	t.Parallel()
	good := tokenclient.Config{TokenURL: "https://localhost:8443/oauth2/token", ClientID: "svc-a"}
	tests := []struct {
		name   string
		modify func(*tokenclient.Config)
	}{
		{"reject/no-token-url", func(c *tokenclient.Config) { c.TokenURL = "" }},
		{"reject/http-token-url", func(c *tokenclient.Config) { c.TokenURL = "http://localhost:8443/oauth2/token" }},
		{"reject/no-client-id", func(c *tokenclient.Config) { c.ClientID = "" }},
		{"reject/audience-and-resource", func(c *tokenclient.Config) { c.Audience, c.Resource = "event", "https://events.internal/" }},
		{"reject/relative-resource", func(c *tokenclient.Config) { c.Resource = "events" }},
		{"reject/resource-with-fragment", func(c *tokenclient.Config) { c.Resource = "https://events.internal/#x" }},
		{"reject/scope-with-space", func(c *tokenclient.Config) { c.Scopes = []string{"event.read event.create"} }},
		{"reject/scope-with-quote", func(c *tokenclient.Config) { c.Scopes = []string{`event"`} }},
		{"reject/empty-scope", func(c *tokenclient.Config) { c.Scopes = []string{""} }},
	}
	if _, err := tokenclient.New(good); err != nil {
		t.Fatalf("accept/minimal: %v", err)
	}
	for _, tt := range tests {
		cfg := good
		tt.modify(&cfg)
		if _, err := tokenclient.New(cfg); err == nil {
			t.Errorf("%s: New accepted %+v", tt.name, cfg)
		}
	}
}

// TestClient: requests through Source.Client carry the token and the
// client certificate it is bound to, to a resource server: a service, which
// the server check of the token requests does not apply to.
func TestClient(t *testing.T) {
	t.Parallel()
	f := newMTLSFixture(t)
	var gotAuth, gotX5t atomic.Value
	rs := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth.Store(r.Header.Get("Authorization"))
		if len(r.TLS.PeerCertificates) > 0 {
			gotX5t.Store(certs.X5tS256(r.TLS.PeerCertificates[0].Raw))
		}
	}))
	rs.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert, Certificates: []tls.Certificate{f.ts.ca.serviceServerCert(t)}}
	rs.StartTLS()
	t.Cleanup(rs.Close)

	s := mustNew(t, f.config())
	resp, err := s.Client(nil).Get(rs.URL + "/events")
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	resp.Body.Close()
	if got := gotAuth.Load(); got != "Bearer at-1" {
		t.Errorf("Authorization = %v, want Bearer at-1", got)
	}
	if got, want := gotX5t.Load(), certs.X5tS256(f.cert.Load().Leaf.Raw); got != want {
		t.Errorf("resource server saw certificate %v, want %s", got, want)
	}
}

type opaqueTransport struct{ http.RoundTripper }

// TestNewRequiresACheckableTransport: New must be able to add certbound's
// server check to the transport it is given, or it refuses.
func TestNewRequiresACheckableTransport(t *testing.T) {
	t.Parallel()
	cfg := tokenclient.Config{TokenURL: "https://localhost:8443/oauth2/token", ClientID: "svc-a"}
	cfg.HTTPClient = &http.Client{Transport: opaqueTransport{http.DefaultTransport}}
	if _, err := tokenclient.New(cfg); !errors.Is(err, tokenclient.ErrUncheckableTransport) {
		t.Fatalf("New(opaque transport) = %v, want ErrUncheckableTransport", err)
	}
	for name, rt := range map[string]http.RoundTripper{"nil": nil, "*http.Transport": &http.Transport{}} {
		cfg.HTTPClient = &http.Client{Transport: rt}
		if _, err := tokenclient.New(cfg); err != nil {
			t.Errorf("New(%s) = %v", name, err)
		}
	}
}

// TestTokenRequestsRequireCertbound: a resource server's certificate from
// the same CA does not receive the token request.
func TestTokenRequestsRequireCertbound(t *testing.T) {
	t.Parallel()
	f := newMTLSFixture(t)
	var hits atomic.Int64
	rs := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	rs.TLS = &tls.Config{Certificates: []tls.Certificate{f.ts.ca.serviceServerCert(t)}}
	rs.StartTLS()
	t.Cleanup(rs.Close)
	cfg := f.config()
	cfg.TokenURL = rs.URL + "/oauth2/token"
	_, err := mustNew(t, cfg).TokenContext(t.Context())
	if !errors.Is(err, certs.ErrNotCertboundServer) {
		t.Fatalf("TokenContext = %v, want ErrNotCertboundServer", err)
	}
	if hits.Load() != 0 {
		t.Fatal("the service received the token request")
	}
}
