package main_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certbound/certbound/ca"
	"github.com/certbound/certbound/ca/catest"
	"github.com/certbound/certbound/certs"
	"github.com/certbound/certbound/certs/secret"
	"github.com/certbound/certbound/cmd/certbound/internal/server/servertest"
	"github.com/certbound/certbound/enroll/enrollclient"
	"github.com/certbound/certbound/tokenex/tokenclient"
	"github.com/certbound/certbound/tokenex/verify"
)

// impersonator is a TLS server holding a genuine service certificate from
// certbound's CA that carries the DNS name localhost (issued straight through
// ca.IssueLeaf, as for a token minted before server names were reserved). It
// answers every certbound route plausibly — the genuine root bundle, RFC 8414
// metadata naming itself, a JWKS of its own key, forged tokens — and records
// every request it receives.
type impersonator struct {
	URL string // https://localhost:<port>

	mu   sync.Mutex
	reqs []recorded
}

type recorded struct {
	method, path string
	header       http.Header
	body         string
}

func startImpersonator(t *testing.T, c *catest.CA) *impersonator {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := c.Authority.IssueLeaf(ca.LeafRequest{ClientID: "innocent-service", PublicKey: key.Public(),
		DNSNames: []string{"localhost"}, Lifetime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	// What a user's own tools would see: a certificate of certbound's CA,
	// valid for serverAuth and the name localhost.
	inter := x509.NewCertPool()
	inter.AddCert(c.Authority.Intermediate())
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "localhost", Roots: c.RootPool(), Intermediates: inter}); err != nil {
		t.Fatalf("the fixture must pass ordinary TLS verification for localhost: %v", err)
	}
	jwkKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding
	pub, _ := jwkKey.PublicKey.Bytes() // 0x04 || X || Y
	jwks := fmt.Sprintf(`{"keys":[{"kty":"EC","crv":"P-256","kid":"forged","use":"sig","alg":"ES256","x":%q,"y":%q}]}`,
		b64.EncodeToString(pub[1:33]), b64.EncodeToString(pub[33:]))

	imp := &impersonator{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		imp.mu.Lock()
		imp.reqs = append(imp.reqs, recorded{r.Method, r.URL.Path, r.Header.Clone(), string(body)})
		imp.mu.Unlock()
		switch r.URL.Path {
		case "/v1/roots":
			w.Header().Set("Content-Type", "application/pem-certificate-chain")
			w.Write(c.Authority.RootPEM()) // public: anyone can serve it
		case "/.well-known/oauth-authorization-server":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"issuer":%q,"jwks_uri":%q}`, imp.URL, imp.URL+"/jwks")
		case "/jwks":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, jwks)
		case "/oauth2/token":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"access_token":"forged","token_type":"Bearer","expires_in":3600}`)
		default:
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"clients":[]}`)
		}
	}))
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{leaf.Raw, c.Authority.Intermediate().Raw}, PrivateKey: key, Leaf: leaf}},
		ClientAuth:   tls.RequestClientCert, // as certbound's listener: clients offer their certificate
	}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	srv.StartTLS()
	t.Cleanup(srv.Close)
	imp.URL = "https://localhost:" + fmt.Sprint(srv.Listener.Addr().(*net.TCPAddr).Port)
	return imp
}

func (imp *impersonator) requests() []recorded {
	imp.mu.Lock()
	defer imp.mu.Unlock()
	return append([]recorded(nil), imp.reqs...)
}

// assertReceivedNothing: no request reached the impersonator at all, so
// neither a header (admin key, Basic credentials) nor a body (token, CSR).
func (imp *impersonator) assertReceivedNothing(t *testing.T) {
	t.Helper()
	for _, r := range imp.requests() {
		t.Errorf("the impersonator received %s %s (Authorization header: %v, api-key header: %v, body: %d bytes)",
			r.method, r.path, r.header.Get("Authorization") != "", r.header.Get("Api-Key") != "", len(r.body))
	}
}

// assertNeverSaw: no request carried s, in any header or the body.
func (imp *impersonator) assertNeverSaw(t *testing.T, what, s string) {
	t.Helper()
	for _, r := range imp.requests() {
		h, _ := json.Marshal(r.header)
		if strings.Contains(string(h), s) || strings.Contains(r.body, s) {
			t.Errorf("the impersonator received the %s in %s %s", what, r.method, r.path)
		}
		if r.method != http.MethodGet || r.path != "/v1/roots" {
			t.Errorf("the impersonator received %s %s; only the unauthenticated GET /v1/roots may reach it", r.method, r.path)
		}
	}
}

// refusedClearly: the error says in words that the server is not certbound.
func refusedClearly(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, certs.ErrNotCertboundServer) {
		t.Errorf("error = %v, want certs.ErrNotCertboundServer", err)
	}
}

// cliRefused runs certbound with args, which must fail saying plainly that
// the server is not certbound.
func cliRefused(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Env = append(os.Environ(), "CERTBOUND_ADMIN_KEY=")
	if err := cmd.Run(); err == nil {
		t.Errorf("certbound %s succeeded against the impersonator", args[0])
	}
	if !strings.Contains(stderr.String(), clearRefusal) {
		t.Errorf("stderr %q does not say the server is not certbound", stderr.String())
	}
}

const clearRefusal = "not certbound's server certificate (it may be a service's certificate)"

// TestServiceCertificateCannotImpersonateCertbound is issue 11's
// reproduction for every certbound client: a service's certificate that
// carries localhost serves https://localhost:PORT, and no client sends it an
// admin key, an enrollment token, a CSR or a token request, nor takes a JWKS
// from it. Each client also still works with the genuine server.
func TestServiceCertificateCannotImpersonateCertbound(t *testing.T) {
	c := catest.New(t)
	s := servertest.Start(t, servertest.WithCA(c))
	s.CreateClient(t, "svc", "event.create", "event")
	dir := filepath.Join(t.TempDir(), "svc")
	cli(t, nil, false, "enroll", "--server", s.URL, "--fingerprint", s.Fingerprint, "--token", s.MintToken(t, "svc"), "--out", dir)
	id, err := enrollclient.Load(dir)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("reject/cli-admin-command-with-the-admin-key", func(t *testing.T) {
		imp := startImpersonator(t, c)
		cliRefused(t, "client", "list", "--server", imp.URL, "--data-dir", s.DataDir)
		imp.assertReceivedNothing(t)
		imp.assertNeverSaw(t, "admin key", s.AdminKey)
		if out := cli(t, s, false, "client", "list"); !strings.Contains(out, "svc") {
			t.Errorf("genuine server: %s", out)
		}
	})
	t.Run("reject/cli-enroll", func(t *testing.T) {
		imp := startImpersonator(t, c)
		tok := s.MintToken(t, "svc")
		cliRefused(t, "enroll", "--server", imp.URL, "--fingerprint", s.Fingerprint, "--token", tok, "--out", filepath.Join(t.TempDir(), "x"))
		imp.assertNeverSaw(t, "enrollment token", tok)
		cli(t, nil, false, "enroll", "--server", s.URL, "--fingerprint", s.Fingerprint, "--token", tok, "--out", filepath.Join(t.TempDir(), "y"))
	})
	t.Run("reject/cli-renew", func(t *testing.T) {
		imp := startImpersonator(t, c)
		cliRefused(t, "renew", "--server", imp.URL, "--dir", dir)
		imp.assertReceivedNothing(t)
	})
	t.Run("reject/cli-token", func(t *testing.T) {
		imp := startImpersonator(t, c)
		cliRefused(t, "token", "--server", imp.URL, "--dir", dir)
		imp.assertReceivedNothing(t)
		if out := cli(t, nil, false, "token", "--server", s.URL, "--dir", dir); !strings.HasPrefix(out, "eyJ") {
			t.Errorf("genuine server: %q", out)
		}
	})
	t.Run("reject/enrollclient-Enroll", func(t *testing.T) {
		imp := startImpersonator(t, c)
		tok := s.MintToken(t, "svc")
		_, err := enrollclient.Enroll(t.Context(), enrollclient.Options{Server: imp.URL, Fingerprint: s.Fingerprint,
			Token: secret.FromString(tok), Dir: filepath.Join(t.TempDir(), "x")})
		refusedClearly(t, err)
		imp.assertNeverSaw(t, "enrollment token", tok)
		if _, err := enrollclient.Enroll(t.Context(), enrollclient.Options{Server: s.URL, Fingerprint: s.Fingerprint,
			Token: secret.FromString(tok), Dir: filepath.Join(t.TempDir(), "y")}); err != nil {
			t.Errorf("genuine server: %v", err)
		}
	})
	t.Run("reject/enrollclient-Renew", func(t *testing.T) {
		imp := startImpersonator(t, c)
		_, err := enrollclient.Renew(t.Context(), dir, imp.URL)
		refusedClearly(t, err)
		imp.assertReceivedNothing(t)
	})
	t.Run("reject/enrollclient-Renewer", func(t *testing.T) {
		imp := startImpersonator(t, c)
		failed := make(chan error, 1)
		due := id.Leaf().NotBefore.Add(id.NotAfter.Sub(id.Leaf().NotBefore) * 9 / 10) // past 2/3 of the lifetime
		r, err := enrollclient.NewRenewer(enrollclient.RenewerConfig{Dir: dir, Server: imp.URL,
			Now: func() time.Time { return due },
			OnError: func(err error) {
				select {
				case failed <- err:
				default:
				}
			}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- r.Run(ctx) }()
		err = <-failed
		cancel()
		<-done
		refusedClearly(t, err)
		imp.assertReceivedNothing(t)
	})
	t.Run("reject/tokenclient-mtls", func(t *testing.T) {
		imp := startImpersonator(t, c)
		for name, server := range map[string]string{"impersonator": imp.URL, "genuine": s.URL} {
			src, err := tokenclient.New(tokenclient.Config{TokenURL: server + "/oauth2/token", ClientID: "svc",
				HTTPClient: id.HTTPClient(), Certificate: func() *x509.Certificate { return id.Leaf() }})
			if err != nil {
				t.Fatal(err)
			}
			_, err = src.TokenContext(t.Context())
			if name == "genuine" {
				if err != nil {
					t.Errorf("genuine server: %v", err)
				}
				continue
			}
			refusedClearly(t, err)
		}
		imp.assertReceivedNothing(t)
	})
	t.Run("reject/tokenclient-secret", func(t *testing.T) {
		imp := startImpersonator(t, c)
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.Roots}}}
		src, err := tokenclient.New(tokenclient.Config{TokenURL: imp.URL + "/oauth2/token", ClientID: "batch",
			ClientSecret: secret.FromString("cbs_the-secret"), HTTPClient: hc})
		if err != nil {
			t.Fatal(err)
		}
		_, err = src.TokenContext(t.Context())
		refusedClearly(t, err)
		imp.assertReceivedNothing(t) // so no Basic credentials either
	})
	t.Run("reject/verify-metadata-and-jwks", func(t *testing.T) {
		imp := startImpersonator(t, c)
		_, err := verify.New(t.Context(), verify.Config{Issuer: imp.URL, Audience: "event", Roots: s.Roots})
		refusedClearly(t, err)
		imp.assertReceivedNothing(t)
		if _, err := verify.New(t.Context(), verify.Config{Issuer: s.URL, Audience: "event", Roots: s.Roots}); err != nil {
			t.Errorf("genuine server: %v", err)
		}
	})
	t.Run("reject/verify-with-the-helper-on-its-own-client", func(t *testing.T) {
		imp := startImpersonator(t, c)
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.Roots,
			VerifyConnection: certs.VerifyServerConnection}}}
		_, err := verify.New(t.Context(), verify.Config{Issuer: imp.URL, Audience: "event", HTTPClient: hc})
		refusedClearly(t, err)
		imp.assertReceivedNothing(t)
	})
}

// TestEnrollTokenRefusesServerNames: the CLI shows the server's refusal to
// mint a token for one of its own names as it is.
func TestEnrollTokenRefusesServerNames(t *testing.T) {
	s := servertest.Start(t)
	s.CreateClient(t, "svc", "event.create", "event")
	stderr := cli(t, s, true, "enroll-token", "create", "--client", "svc", "--dns", "svc.internal", "--dns", "localhost")
	const want = "localhost is certbound's own server name (serve --dns); a service certificate may not carry it (400 invalid_request)"
	if !strings.Contains(stderr, want) {
		t.Fatalf("stderr %q, want %q", stderr, want)
	}
	if out := cli(t, s, false, "enroll-token", "create", "--client", "svc", "--dns", "svc.internal"); !strings.HasPrefix(out, "cbe_") {
		t.Fatalf("stdout %q", out)
	}
}
