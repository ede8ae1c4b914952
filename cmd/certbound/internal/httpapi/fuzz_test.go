package httpapi_test

import (
	"crypto/x509"
	"encoding/base64"
	"net/url"
	"strings"
	"testing"

	"github.com/certbound/certbound/certs"
)

// HTTP-level fuzzing: each target drives the real echo handler with real
// services (harness_test.go) and checks, for every input, that the answer is
// never a 5xx (a panic becomes one) and that every 4xx is SPEC §5 JSON. The
// seed corpora below run under plain `go test`; `make fuzz` runs each target
// for FUZZTIME.
//
// Placeholders in inputs are replaced with live values before each request,
// so that mutated inputs keep reaching the code behind authentication:
// TOKEN (a fresh enrollment token), SECRET_BASIC / SECRET_POST (the client
// secrets), ACCESS_TOKEN (a valid access token), ADMIN (the admin key).

const (
	ctJSON = "Content-Type: application/json"
	ctForm = "Content-Type: application/x-www-form-urlencoded"
)

func (h *harness) expand(t *testing.T, s string) string {
	if strings.Contains(s, "TOKEN") && !strings.Contains(s, "ACCESS_TOKEN") {
		s = strings.ReplaceAll(s, "TOKEN", h.freshToken(t))
	}
	return strings.NewReplacer("SECRET_BASIC", h.secretBasic, "SECRET_POST", h.secretPost,
		"ACCESS_TOKEN", h.accessToken, "ADMIN", h.adminKey).Replace(s)
}

// FuzzEnrollBody fuzzes POST /v1/enroll {token, csr}.
func FuzzEnrollBody(f *testing.F) {
	h := newHarness(f)
	csr := newCSR(f, "svc.internal")
	for _, s := range []string{
		string(mustJSON(f, map[string]string{"token": "TOKEN", "csr": csr})),
		string(mustJSON(f, map[string]string{"token": "TOKEN", "csr": newCSR(f, "other.internal")})),
		string(mustJSON(f, map[string]string{"token": "TOKEN", "csr": csr[:len(csr)/2]})),
		string(mustJSON(f, map[string]string{"token": "cbe_unknown", "csr": csr})),
		`{"token":"TOKEN","csr":"-----BEGIN CERTIFICATE REQUEST-----\nMAA=\n-----END CERTIFICATE REQUEST-----\n"}`,
		`{"token":"TOKEN","csr":""}`, `{"token":"TOKEN"}`, `{}`, `[]`, `null`, ``, `{"token":1}`,
		`{"token":"TOKEN","csr":"x","token":"y"}`, `{"a":{"b":{"c":[[[[]]]]}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		h.do(t, request{method: "POST", path: "/v1/enroll", body: []byte(h.expand(t, string(body))), headers: []string{ctJSON}})
	})
}

// FuzzRenewBody fuzzes POST /v1/renew {csr} over mTLS with a real chain. A
// successful renewal supersedes the certificate, so the next input gets a
// freshly enrolled one.
func FuzzRenewBody(f *testing.F) {
	h := newHarness(f)
	chain := h.chain
	for _, s := range []string{
		string(mustJSON(f, map[string]string{"csr": newCSR(f)})),
		string(mustJSON(f, map[string]string{"csr": newCSR(f, "svc.internal")})),
		string(mustJSON(f, map[string]string{"csr": newCSR(f, "evil.internal")})),
		`{"csr":""}`, `{"csr":null}`, `{}`, `{"csr":"x","extra":1}`, ``, `"csr"`,
	} {
		f.Add([]byte(s), true)
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, body []byte, withCert bool) {
		r := request{method: "POST", path: "/v1/renew", body: body, headers: []string{ctJSON}}
		if withCert {
			r.chain = chain
		}
		if rec := h.do(t, r); rec != nil && rec.Code == 201 {
			chain = h.enrolled(t)
		}
	})
}

// FuzzTokenForm fuzzes POST /oauth2/token: the form body, the Authorization
// header and whether a client certificate is on the connection.
func FuzzTokenForm(f *testing.F) {
	h := newHarness(f)
	basic := "Basic " + b64("sec:SECRET_BASIC")
	for _, s := range []struct {
		body, auth string
		cert       bool
	}{
		{"grant_type=client_credentials&client_id=svc", "", true},
		{"grant_type=client_credentials&client_id=svc&scope=a&audience=aud", "", true},
		{"grant_type=client_credentials&client_id=svc&resource=https%3A%2F%2Frs.example%2F&resource=https%3A%2F%2Frs.example%2F", "", true},
		{"grant_type=client_credentials&client_id=svc&scope=a+b+c", "", true},
		{"grant_type=client_credentials", basic, false},
		{"grant_type=client_credentials&scope=a", basic, true},
		{"grant_type=client_credentials&client_id=post&client_secret=SECRET_POST", "", false},
		{"grant_type=client_credentials&client_id=post&client_secret=SECRET_POST", basic, false},
		{"grant_type=password&client_id=svc", "", true},
		{"grant_type=client_credentials&client_id=svc&client_id=svc", "", true},
		{"grant_type=client_credentials&client_id=%ff", "", true},
		{"grant_type=client_credentials;client_id=svc", "", true},
		{"", "Basic !!!", false},
		{"grant_type=client_credentials", "Basic " + b64("sec%zz:x"), false},
	} {
		f.Add(s.body, s.auth, s.cert)
	}
	f.Fuzz(func(t *testing.T, body, auth string, withCert bool) {
		r := request{method: "POST", path: "/oauth2/token", body: []byte(h.expand(t, body)), headers: []string{ctForm}}
		if auth != "" {
			r.headers = append(r.headers, "Authorization: "+h.expand(t, auth))
		}
		if withCert {
			r.chain = h.chain
		}
		h.do(t, r)
	})
}

// FuzzSeedToken fuzzes the seed's JSON token body, POST /auth/oauth/token.
func FuzzSeedToken(f *testing.F) {
	h := newHarness(f)
	for _, s := range []string{
		`{"clientId":"post","clientSecret":"SECRET_POST","grantType":"client_credentials","scope":["a"],"audience":"aud"}`,
		`{"clientId":"sec","clientSecret":"SECRET_BASIC","grantType":"client_credentials"}`,
		`{"clientId":"svc","grantType":"client_credentials","scope":["a","b"]}`,
		`{"clientId":"post","clientSecret":"wrong","grantType":"client_credentials"}`,
		`{"clientId":"post","clientSecret":"SECRET_POST","grantType":"client_credentials","scope":"a"}`,
		`{"clientId":"post","clientSecret":"SECRET_POST","grantType":"client_credentials","scope":["a b"],"unknown":[1,2]}`,
		`{"clientId":null}`, `{}`, ``, `[`,
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, withCert bool) {
		r := request{method: "POST", path: "/auth/oauth/token", body: []byte(h.expand(t, string(body))), headers: []string{ctJSON}}
		if withCert {
			r.chain = h.chain
		}
		h.do(t, r)
	})
}

// FuzzCreateClient fuzzes the admin's POST /v1/clients and the seed's POST
// /recipe/oauth/clients bodies.
func FuzzCreateClient(f *testing.F) {
	h := newHarness(f)
	selfSigned := string(mustJSON(f, string(certPEM(h.chain[0]))))
	for _, s := range []string{
		`{"client_id":"a1","client_name":"A","scope":"x y","audience":["aud"]}`,
		`{"client_name":"Billing Service","scope":"invoice.read","audience":["invoices"],"token_endpoint_auth_method":"client_secret_basic"}`,
		`{"client_id":"a2","token_endpoint_auth_method":"tls_client_auth","tls_client_auth_san_uri":"spiffe://certbound.local/a2"}`,
		`{"client_id":"a3","tls_client_auth_san_uri":"spiffe://certbound.local/a3","tls_client_auth_san_dns":"a3.internal"}`,
		`{"client_id":"a4","token_endpoint_auth_method":"self_signed_tls_client_auth","self_signed_certificates":[` + selfSigned + `]}`,
		`{"client_id":"a5","token_endpoint_auth_method":"self_signed_tls_client_auth","jwks":{"keys":[{"kty":"EC","x5c":["AAAA"]}]}}`,
		`{"client_id":"a6","access_token_ttl":86401}`, `{"client_id":"a7","access_token_ttl":9223372036854775807}`,
		`{"client_id":"a8","grant_types":["password"]}`, `{"client_id":"a9","jwks_uri":"https://x"}`,
		`{"client_id":"A","scope":"a\"b"}`, `{"client_id":"svc"}`, `{}`, `{"client_name":"` + strings.Repeat("é", 150) + `"}`,
	} {
		f.Add([]byte(s), false)
	}
	f.Add([]byte(`{"clientName":"seed","grantTypes":["client_credentials"],"scope":"a b","audience":["aud"]}`), true)
	f.Add([]byte(`{"clientName":"","grantTypes":[],"scope":"","audience":[]}`), true)
	f.Fuzz(func(t *testing.T, body []byte, seed bool) {
		path := "/v1/clients"
		if seed {
			path = "/recipe/oauth/clients"
		}
		h.do(t, request{method: "POST", path: path, body: body, headers: []string{ctJSON, "Authorization: Bearer " + h.adminKey}})
	})
}

// FuzzPatchClient fuzzes PATCH /v1/clients/{id}.
func FuzzPatchClient(f *testing.F) {
	h := newHarness(f)
	for _, s := range []struct{ id, body string }{
		{"svc", `{"scope":"a b c"}`}, {"svc", `{"audience":["aud","x"]}`}, {"svc", `{"disabled":false}`},
		{"sec", `{"access_token_ttl":60}`}, {"sec", `{"access_token_ttl":-1}`}, {"svc", `{"access_token_ttl":9223372037}`},
		{"svc", `{"client_name":null}`}, {"svc", `{"scope":null,"audience":null}`}, {"nobody", `{"scope":"a"}`},
		{"%2e%2e", `{}`}, {"svc", `{"client_id":"x"}`}, {"svc", ``},
	} {
		f.Add(s.id, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, id string, body []byte) {
		h.do(t, request{method: "PATCH", path: "/v1/clients/" + id, body: body, headers: []string{ctJSON, "Authorization: Bearer " + h.adminKey}})
	})
}

// FuzzEnrollmentTokenRequest fuzzes POST /v1/clients/{id}/enrollment-tokens.
func FuzzEnrollmentTokenRequest(f *testing.F) {
	h := newHarness(f)
	for _, s := range []struct{ id, body string }{
		{"svc", `{"ttl":"15m","dns_names":["svc.internal"]}`}, {"svc", `{}`}, {"svc", ``}, {"svc", `{"ttl":"25h"}`},
		{"svc", `{"ttl":"1ns"}`}, {"svc", `{"ttl":"-1s"}`}, {"svc", `{"ttl":"9999999999999h"}`}, {"svc", `{"dns_names":["*.x"]}`},
		{"svc", `{"dns_names":["10.0.0.1"]}`}, {"svc", `{"dns_names":[""]}`}, {"nobody", `{}`}, {"svc", `{"ttl":15}`},
	} {
		f.Add(s.id, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, id string, body []byte) {
		h.do(t, request{method: "POST", path: "/v1/clients/" + id + "/enrollment-tokens", body: body,
			headers: []string{ctJSON, "Authorization: Bearer " + h.adminKey}})
	})
}

// FuzzIntrospect fuzzes POST /oauth2/introspect: the form and the caller's
// Authorization header.
func FuzzIntrospect(f *testing.F) {
	h := newHarness(f)
	for _, s := range []struct{ body, auth string }{
		{"token=ACCESS_TOKEN", "Bearer ADMIN"},
		{"token=ACCESS_TOKEN&token_type_hint=access_token", "Basic " + b64("sec:SECRET_BASIC")},
		{"token=ACCESS_TOKEN", "Basic " + b64("sec:wrong")},
		{"token=ACCESS_TOKEN&client_id=post&client_secret=SECRET_POST", ""},
		{"token=eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "Bearer ADMIN"},
		{"token=" + strings.Repeat("A", 9000), "Bearer ADMIN"},
		{"token=", "Bearer ADMIN"}, {"", "Bearer ADMIN"}, {"token=a&token=b", "Bearer ADMIN"},
		{"token=ACCESS_TOKEN", "Bearer cba_wrong"}, {"token=ACCESS_TOKEN", ""},
	} {
		f.Add(s.body, s.auth)
	}
	f.Fuzz(func(t *testing.T, body, auth string) {
		r := request{method: "POST", path: "/oauth2/introspect", body: []byte(h.expand(t, body)), headers: []string{ctForm}}
		if auth != "" {
			r.headers = append(r.headers, "Authorization: "+h.expand(t, auth))
		}
		h.do(t, r)
	})
}

// FuzzRoutes fuzzes the router itself: method, path with query, content
// type and body, always with the admin key and the client certificate, so
// that every route and its parameters are reachable.
func FuzzRoutes(f *testing.F) {
	h := newHarness(f)
	for _, s := range []struct{ method, path, ctype, body string }{
		{"GET", "/v1/health", "", ""}, {"GET", "/v1/roots", "", ""}, {"GET", "/.well-known/jwks.json", "", ""},
		{"GET", "/.well-known/oauth-authorization-server", "", ""}, {"GET", "/auth/jwt/jwks.json", "", ""},
		{"GET", "/v1/clients?limit=2&after=a", "", ""}, {"GET", "/v1/clients/svc", "", ""},
		{"DELETE", "/v1/clients/post", "", ""}, {"GET", "/v1/certificates?client_id=svc&active=true&limit=5", "", ""},
		{"POST", "/v1/certificates/00/revoke", "application/json", `{"reason":"x"}`},
		{"POST", "/v1/certificates/" + certSerial(h.chain[0]) + "/revoke", "", ""},
		{"POST", "/v1/keys/rotate", "", ""}, {"POST", "/v1/clients/svc/enrollment-tokens", "", ""},
		{"PUT", "/oauth2/token", "", ""}, {"GET", "/v1/%zz", "", ""}, {"GET", "/v1/clients/%00", "", ""},
		{"POST", "/oauth2/token?x=1", "application/x-www-form-urlencoded", "grant_type=client_credentials"},
		{"GET", "/v1/certificates?active=maybe", "", ""}, {"GET", "/v1/audit?since=24h", "", ""},
	} {
		f.Add(s.method, s.path, s.ctype, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, method, path, ctype string, body []byte) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		if _, err := url.ParseRequestURI(path); err != nil {
			return // not a request target net/http would accept
		}
		r := request{method: method, path: path, body: body, chain: h.chain,
			headers: []string{"Authorization: Bearer " + h.adminKey}}
		if ctype != "" {
			r.headers = append(r.headers, "Content-Type: "+ctype)
		}
		h.do(t, r)
	})
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func certPEM(c *x509.Certificate) []byte { return certs.EncodeCertificates(c) }

func certSerial(c *x509.Certificate) string { return certs.SerialString(c.SerialNumber) }
