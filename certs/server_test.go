package certs_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/certbound/certbound/certs"
)

func uris(t *testing.T, raw ...string) []*url.URL {
	t.Helper()
	out := make([]*url.URL, len(raw))
	for i, r := range raw {
		u, err := url.Parse(r)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = u
	}
	return out
}

// TestCheckServerCertificate: only the one URI SAN certbound puts in its own
// server certificate passes; every SPIFFE ID a service can hold is refused.
func TestCheckServerCertificate(t *testing.T) {
	for _, tc := range []struct {
		name string
		uris []string
		ok   bool
	}{
		{"accept/server-id", []string{"spiffe://certbound.local/certbound/server"}, true},
		{"accept/other-trust-domain", []string{"spiffe://prod.example/certbound/server"}, true},
		{"accept/built-by-ServerURL", []string{certs.ServerURL("certbound.local").String()}, true},
		{"reject/service-id", []string{"spiffe://certbound.local/calendarservice"}, false},
		{"reject/service-named-certbound", []string{"spiffe://certbound.local/certbound"}, false},
		{"reject/no-uri-san", nil, false},
		{"reject/two-uri-sans", []string{"spiffe://certbound.local/certbound/server", "spiffe://certbound.local/svc"}, false},
		{"reject/trailing-slash", []string{"spiffe://certbound.local/certbound/server/"}, false},
		{"reject/deeper-path", []string{"spiffe://certbound.local/certbound/server/x"}, false},
		{"reject/https-scheme", []string{"https://certbound.local/certbound/server"}, false},
		{"reject/query", []string{"spiffe://certbound.local/certbound/server?x=1"}, false},
		{"reject/fragment", []string{"spiffe://certbound.local/certbound/server#x"}, false},
		{"reject/port", []string{"spiffe://certbound.local:1/certbound/server"}, false},
		{"reject/user-info", []string{"spiffe://u@certbound.local/certbound/server"}, false},
		{"reject/escaped-path", []string{"spiffe://certbound.local/certbound%2Fserver"}, false},
		{"reject/uppercase-trust-domain", []string{"spiffe://Certbound.local/certbound/server"}, false},
		{"reject/empty-trust-domain", []string{"spiffe:///certbound/server"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leaf := &x509.Certificate{URIs: uris(t, tc.uris...)}
			err := certs.CheckServerCertificate(leaf)
			if tc.ok {
				if err != nil {
					t.Fatalf("CheckServerCertificate: %v", err)
				}
				return
			}
			if !errors.Is(err, certs.ErrNotCertboundServer) {
				t.Fatalf("CheckServerCertificate = %v, want ErrNotCertboundServer", err)
			}
			var ie *certs.ServerIdentityError
			if !errors.As(err, &ie) || ie.Found == "" {
				t.Fatalf("want a *ServerIdentityError naming what was found, got %#v", err)
			}
			if !strings.Contains(err.Error(), "not certbound's server certificate") {
				t.Fatalf("message %q does not say plainly what is wrong", err)
			}
		})
	}
}

func TestVerifyServerConnection(t *testing.T) {
	good := &x509.Certificate{URIs: uris(t, "spiffe://certbound.local/certbound/server")}
	svc := &x509.Certificate{URIs: uris(t, "spiffe://certbound.local/svc")}
	if err := certs.VerifyServerConnection(tls.ConnectionState{PeerCertificates: []*x509.Certificate{good, svc}}); err != nil {
		t.Fatalf("the leaf is the server's: %v", err)
	}
	for name, cs := range map[string]tls.ConnectionState{
		"reject/service-leaf":    {PeerCertificates: []*x509.Certificate{svc, good}},
		"reject/no-certificates": {},
	} {
		if err := certs.VerifyServerConnection(cs); !errors.Is(err, certs.ErrNotCertboundServer) {
			t.Errorf("%s: %v, want ErrNotCertboundServer", name, err)
		}
	}
}

// TestServerIdentityErrorIsPrintable: what a hostile certificate carries is
// quoted without control characters.
func TestServerIdentityErrorIsPrintable(t *testing.T) {
	leaf := &x509.Certificate{URIs: []*url.URL{{Scheme: "spiffe", Host: "td", Path: "/a\x1b[31m\nb"}}}
	err := certs.CheckServerCertificate(leaf)
	if err == nil || strings.ContainsAny(err.Error(), "\x1b\n") {
		t.Fatalf("error %q", err)
	}
}

func TestValidDNSName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"localhost", true},
		{"calendar.internal", true},
		{"a-b.c-d.example", true},
		{"x1.example", true},
		{strings.Repeat("a", 63) + ".example", true},
		{strings.Repeat(strings.Repeat("a", 61)+".", 4) + "abcde", true}, // 253 octets
		{"", false},
		{"Calendar.internal", false},
		{"*.example", false},
		{"example.", false},
		{".example", false},
		{"a..example", false},
		{"-a.example", false},
		{"a-.example", false},
		{"a_b.example", false},
		{"10.0.0.1", false},
		{"host.123", false},
		{"ünicode.example", false},
		{strings.Repeat("a", 64) + ".example", false},
		{strings.Repeat(strings.Repeat("a", 61)+".", 4) + "abcdef", false}, // 254 octets
	} {
		if got := certs.ValidDNSName(tc.name); got != tc.ok {
			t.Errorf("ValidDNSName(%q) = %v, want %v", tc.name, got, tc.ok)
		}
	}
}
