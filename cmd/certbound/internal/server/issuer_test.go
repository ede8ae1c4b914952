package server_test

import (
	"testing"

	"github.com/certbound/certbound/cmd/certbound/internal/server"
)

func TestDefaultIssuerFollowsListenAndDNS(t *testing.T) {
	for _, tc := range []struct {
		name, listen string
		dns          []string
		want         string
	}{
		{"accept/defaults", "127.0.0.1:8443", []string{"localhost", "127.0.0.1"}, "https://localhost:8443"},
		{"accept/another port", "127.0.0.1:9443", []string{"localhost"}, "https://localhost:9443"},
		{"accept/all interfaces", "0.0.0.0:8443", []string{"ca.example.internal", "localhost"}, "https://ca.example.internal:8443"},
		{"accept/empty host", ":7443", []string{"ca.example.internal"}, "https://ca.example.internal:7443"},
		{"accept/port 443 left out", "[::]:443", []string{"ca.example.internal"}, "https://ca.example.internal"},
		{"accept/an IP name", "127.0.0.1:8443", []string{"10.0.0.5"}, "https://10.0.0.5:8443"},
		{"accept/an IPv6 name", "[::1]:8443", []string{"::1"}, "https://[::1]:8443"},
		{"accept/an IPv6 name on 443", "[::1]:443", []string{"::1"}, "https://[::1]"},
		{"reject/port 0", "127.0.0.1:0", []string{"localhost"}, ""},
		{"reject/no port", "localhost", []string{"localhost"}, ""},
		{"reject/no names", "127.0.0.1:8443", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := server.DefaultIssuer(tc.listen, tc.dns)
			if (err != nil) != (tc.want == "") || got != tc.want {
				t.Fatalf("DefaultIssuer(%q, %v) = %q, %v; want %q", tc.listen, tc.dns, got, err, tc.want)
			}
		})
	}
}
