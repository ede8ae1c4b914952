package server_test

import (
	"crypto/ecdsa"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/certbound/certbound/certs"
	"github.com/certbound/certbound/cmd/certbound/internal/server"
	"github.com/certbound/certbound/cmd/certbound/internal/server/servertest"
)

// errorOf decodes a SPEC §5 error body.
func errorOf(t *testing.T, r *servertest.Response) (code, desc string) {
	t.Helper()
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.Unmarshal(r.Body, &e); err != nil {
		t.Fatalf("%d %s: %v", r.Status, r.Body, err)
	}
	return e.Error, e.Description
}

// TestServerIdentityCertificate: the listener's certificate is the one every
// certbound client requires, and it cannot authenticate as a client.
func TestServerIdentityCertificate(t *testing.T) {
	s := servertest.Start(t)
	r, err := s.HTTPClient().Get(s.URL + "/v1/health")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	leaf := r.TLS.PeerCertificates[0]
	if err := certs.CheckServerCertificate(leaf); err != nil {
		t.Fatalf("the server's own certificate: %v", err)
	}
	if got := leaf.URIs[0].String(); got != "spiffe://certbound.local/certbound/server" {
		t.Fatalf("URI SAN %s", got)
	}
	for _, eku := range leaf.ExtKeyUsage {
		if eku != 1 { // x509.ExtKeyUsageServerAuth
			t.Fatalf("ExtKeyUsage %v, want serverAuth only", leaf.ExtKeyUsage)
		}
	}
}

// TestServerNamesAreReservedAtMint: a token may not allow one of the
// server's own --dns names; IP addresses are not names and stay refused as
// before (no token may allow one).
func TestServerNamesAreReservedAtMint(t *testing.T) {
	s := servertest.Start(t, servertest.WithConfig(func(c *server.Config) {
		c.DNS = []string{"localhost", "127.0.0.1", "ca.example.internal"}
	}))
	s.CreateClient(t, "svc", "a", "aud")
	for _, tc := range []struct {
		name string
		dns  []string
		want string // "" = 201
	}{
		{"reject/localhost", []string{"localhost"}, "localhost is certbound's own server name (serve --dns); a service certificate may not carry it"},
		{"reject/second-server-name", []string{"svc.internal", "ca.example.internal"}, "ca.example.internal is certbound's own server name"},
		{"accept/other-name", []string{"svc.internal"}, ""},
		{"accept/a-subdomain-of-a-server-name", []string{"svc.localhost"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.Admin(t, "POST", "/v1/clients/svc/enrollment-tokens", map[string]any{"dns_names": tc.dns})
			if tc.want == "" {
				if r.Status != http.StatusCreated {
					t.Fatalf("%d %s", r.Status, r.Body)
				}
				return
			}
			code, desc := errorOf(t, r)
			if r.Status != http.StatusBadRequest || code != "invalid_request" || !strings.Contains(desc, tc.want) {
				t.Fatalf("%d %s, want 400 invalid_request %q", r.Status, r.Body, tc.want)
			}
		})
	}
}

// TestServerNamesAreReservedAtIssue: a token minted, or a certificate issued,
// before the server took a name cannot put that name in a new certificate.
// The refusal is a clear 403, the token stays redeemable without the name,
// and the refused renewal supersedes nothing.
func TestServerNamesAreReservedAtIssue(t *testing.T) {
	s := servertest.Start(t)
	s.CreateClient(t, "svc", "a", "aud")
	tok := s.MintToken(t, "svc", "ca.example.internal", "svc.internal")
	old, _ := s.Enroll(t, s.MintToken(t, "svc", "ca.example.internal"), "ca.example.internal")

	s = s.Restart(t, servertest.WithConfig(func(c *server.Config) {
		c.DNS = []string{"localhost", "127.0.0.1", "ca.example.internal"}
	}))
	const want = "ca.example.internal is certbound's own server name (serve --dns); a service certificate may not carry it"

	t.Run("reject/enroll", func(t *testing.T) {
		r := s.Do(t, nil, "POST", "/v1/enroll", map[string]string{"token": tok, "csr": servertest.CSR(t, servertest.NewKey(t), "svc.internal", "ca.example.internal")})
		code, desc := errorOf(t, r)
		if r.Status != http.StatusForbidden || code != "access_denied" || desc != want {
			t.Fatalf("%d %s, want 403 access_denied %q", r.Status, r.Body, want)
		}
	})
	t.Run("accept/enroll-without-the-name", func(t *testing.T) {
		cert, _ := s.Enroll(t, tok, "svc.internal")
		if got := cert.Leaf.DNSNames; len(got) != 1 || got[0] != "svc.internal" {
			t.Fatalf("DNS names %v", got)
		}
	})
	renew := func(csrNames ...string) *servertest.Response {
		key := servertest.NewKey(t).(*ecdsa.PrivateKey)
		return s.Do(t, s.HTTPClient(old), "POST", "/v1/renew", map[string]string{"csr": servertest.CSR(t, key, csrNames...)})
	}
	t.Run("reject/renew-keeping-the-names", func(t *testing.T) {
		r := renew() // a bare CSR keeps the certificate's names
		code, desc := errorOf(t, r)
		if r.Status != http.StatusForbidden || code != "access_denied" || desc != want {
			t.Fatalf("%d %s, want 403 access_denied %q", r.Status, r.Body, want)
		}
	})
	t.Run("reject/renew-asking-for-the-name", func(t *testing.T) {
		if r := renew("ca.example.internal"); r.Status != http.StatusForbidden {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
	})
}
