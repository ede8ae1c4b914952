package server_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/certbound/certbound/ca/catest"
	"github.com/certbound/certbound/certs"
	"github.com/certbound/certbound/cmd/certbound/internal/server"
	"github.com/certbound/certbound/cmd/certbound/internal/server/servertest"
	"github.com/certbound/certbound/enroll"
)

// hostileCase is one hostile request and the documented answer.
type hostileCase struct {
	name         string
	method, path string
	body         any // string or []byte: sent as is; nil: no body
	headers      []string
	cert         *tls.Certificate // presented in the TLS handshake
	admin        bool             // send the admin key
	status       int
	code         string // the expected "error"; "" checks only that there is one
	reason       string // the non-secret reason the access log must give; "" any
	// check inspects a 2xx body (the few cases whose documented answer is
	// success with nothing in it).
	check func(*servertest.Response) error
}

// TestHostileInput sends every route the inputs an attacker would try, over
// real HTTPS, and checks each gets its documented 4xx with a JSON error,
// never a 5xx, and leaves the database exactly as it was.
func TestHostileInput(t *testing.T) {
	c := catest.New(t)
	foreign := catest.ForeignCA(t)
	// Clone action "refuse": presenting the superseded certificate must not
	// change the database either.
	s := servertest.Start(t, servertest.WithCA(c), servertest.WithConfig(func(cfg *server.Config) {
		cfg.CloneAction = enroll.CloneRefuse
	}))
	adminHdr := "Authorization: Bearer " + s.AdminKey

	// The state the hostile requests must leave alone.
	s.CreateClient(t, "svc", "a b", "aud")
	r := s.Admin(t, "POST", "/v1/clients", map[string]any{"client_id": "sec", "scope": "a", "audience": []string{"aud"},
		"token_endpoint_auth_method": "client_secret_basic"})
	if r.Status != 201 {
		t.Fatalf("create secret client: %d %s", r.Status, r.Body)
	}
	var secClient struct {
		Secret string `json:"client_secret"`
	}
	r.JSON(t, &secClient)
	good, _ := s.Enroll(t, s.MintToken(t, "svc", "ok.internal"), "ok.internal")
	old, _ := s.Enroll(t, s.MintToken(t, "svc"))
	if r := s.Do(t, s.HTTPClient(old), "POST", "/v1/renew", map[string]string{"csr": servertest.CSR(t, servertest.NewKey(t))}); r.Status != 201 {
		t.Fatalf("renew: %d %s", r.Status, r.Body)
	}
	revoked, revokedIs := s.Enroll(t, s.MintToken(t, "svc"))
	pending := s.MintToken(t, "svc", "ok.internal") // unused: the CSR cases must not burn it
	// First uses are recorded once per certificate; make them before the snapshot.
	for _, cert := range []tls.Certificate{good, revoked} {
		if r := s.Do(t, s.HTTPClient(cert), "POST", "/oauth2/token", "grant_type=client_credentials&client_id=svc",
			"Content-Type: application/x-www-form-urlencoded"); r.Status != 200 {
			t.Fatalf("warm-up token: %d %s", r.Status, r.Body)
		}
	}
	if r := s.Admin(t, "POST", "/v1/certificates/"+revokedIs.Serial+"/revoke", map[string]string{"reason": "test"}); r.Status != 200 {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}

	// Certificates that must never authenticate: each breaks one rule.
	// Each must be refused for its own reason (the access log's, never
	// the caller's): renewal's reason, then the token endpoint's.
	fixtures := []struct {
		name                     string
		cert                     tls.Certificate
		renewReason, tokenReason string
	}{
		{"expired", first(c.ExpiredLeaf(t, "svc")), "expired", "cert_expired"},
		{"not yet valid", first(c.NotYetValidLeaf(t, "svc")), "expired", "cert_expired"},
		{"two URI SANs", first(c.TwoURISANsLeaf(t, "svc")), "identity", "cert_identity"},
		{"no URI SAN", first(c.NoURISANLeaf(t, "svc")), "identity", "cert_identity"},
		{"other trust domain", first(c.WrongTrustDomainLeaf(t, "svc")), "identity", "cert_identity"},
		{"CA certificate as leaf", first(c.CALeaf(t, "svc")), "untrusted", "untrusted_cert"},
		{"keyCertSign leaf", first(c.KeyCertSignLeaf(t, "svc")), "untrusted", "untrusted_cert"},
		{"serverAuth only", first(c.ServerAuthOnlyLeaf(t, "svc")), "untrusted", "untrusted_cert"},
		{"intermediate as leaf", first(c.IntermediateAsLeaf(t)), "untrusted", "untrusted_cert"},
		{"root as leaf", first(c.RootAsLeaf(t)), "untrusted", "untrusted_cert"},
		{"self-signed, same names", first(catest.SelfSigned(t, "svc")), "untrusted", "untrusted_cert"},
		{"foreign CA, same names", first(foreign.Leaf(t, "svc")), "untrusted", "untrusted_cert"},
		{"never recorded", first(c.Leaf(t, "svc")), "revoked", "cert_revoked"},
		{"revoked", revoked, "revoked", "cert_revoked"},
	}

	const form = "Content-Type: application/x-www-form-urlencoded"
	const jsonCT = "Content-Type: application/json"
	tokenForm := "grant_type=client_credentials&client_id=svc"
	big := strings.Repeat("a", servertestBodyLimit+1)
	csr := servertest.CSR(t, servertest.NewKey(t), "ok.internal")
	enrollBody := func(csr string) string { return mustJSON(t, map[string]string{"token": pending, "csr": csr}) }
	goodPEM := string(certs.EncodeCertificates(good.Leaf))
	basic := func(user, pass string) string {
		return "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	}

	cases := []hostileCase{
		// Wrong methods.
		{name: "method/DELETE health", method: "DELETE", path: "/v1/health", status: 405},
		{name: "method/TRACE health", method: "TRACE", path: "/v1/health", status: 405},
		{name: "method/POST roots", method: "POST", path: "/v1/roots", status: 405},
		{name: "method/GET enroll", method: "GET", path: "/v1/enroll", status: 405},
		{name: "method/PUT renew", method: "PUT", path: "/v1/renew", status: 405},
		{name: "method/GET token", method: "GET", path: "/oauth2/token?" + tokenForm, status: 405, code: "invalid_request"},
		{name: "method/DELETE introspect", method: "DELETE", path: "/oauth2/introspect", status: 405, code: "invalid_request"},
		{name: "method/POST jwks", method: "POST", path: "/.well-known/jwks.json", status: 405},
		{name: "method/PUT metadata", method: "PUT", path: "/.well-known/oauth-authorization-server", status: 405},
		{name: "method/GET seed token", method: "GET", path: "/auth/oauth/token", status: 405},
		{name: "method/PUT clients", method: "PUT", path: "/v1/clients", admin: true, status: 405},
		{name: "method/POST certificates", method: "POST", path: "/v1/certificates", admin: true, status: 405},
		{name: "method/GET keys rotate", method: "GET", path: "/v1/keys/rotate", admin: true, status: 405},
		{name: "route/unknown", method: "GET", path: "/v2/clients", status: 404},
		{name: "route/unknown admin path", method: "GET", path: "/v1/secrets", admin: true, status: 404},
		{name: "route/dot-dot segments", method: "GET", path: "/v1/health/../clients", status: 404},

		// Wrong content types.
		{name: "ctype/enroll text", method: "POST", path: "/v1/enroll", body: enrollBody(csr), headers: []string{"Content-Type: text/plain"}, status: 415},
		{name: "ctype/enroll none", method: "POST", path: "/v1/enroll", body: enrollBody(csr), status: 415},
		{name: "ctype/enroll form", method: "POST", path: "/v1/enroll", body: "token=" + pending, headers: []string{form}, status: 415},
		{name: "ctype/enroll malformed media type", method: "POST", path: "/v1/enroll", body: enrollBody(csr), headers: []string{"Content-Type: application/json; ; ="}, status: 415},
		{name: "ctype/token json", method: "POST", path: "/oauth2/token", body: `{"grant_type":"client_credentials"}`, headers: []string{jsonCT}, cert: &good, status: 400, code: "invalid_request"},
		{name: "ctype/token none", method: "POST", path: "/oauth2/token", body: tokenForm, cert: &good, status: 400, code: "invalid_request"},
		{name: "ctype/token multipart", method: "POST", path: "/oauth2/token", body: tokenForm, headers: []string{"Content-Type: multipart/form-data; boundary=x"}, cert: &good, status: 400, code: "invalid_request"},
		{name: "ctype/introspect json", method: "POST", path: "/oauth2/introspect", body: `{"token":"x"}`, headers: []string{jsonCT}, admin: true, status: 400, code: "invalid_request"},
		{name: "ctype/clients text", method: "POST", path: "/v1/clients", body: `{"client_id":"x1"}`, headers: []string{"Content-Type: text/plain"}, admin: true, status: 415},
		{name: "ctype/seed token form", method: "POST", path: "/auth/oauth/token", body: "clientId=sec", headers: []string{form}, status: 415},
		{name: "ctype/seed clients xml", method: "POST", path: "/recipe/oauth/clients", body: `<client/>`, headers: []string{"Content-Type: application/xml"}, admin: true, status: 415},

		// Empty, truncated, malformed and oversized bodies.
		{name: "body/enroll empty", method: "POST", path: "/v1/enroll", body: "", headers: []string{jsonCT}, status: 400},
		{name: "body/enroll whitespace", method: "POST", path: "/v1/enroll", body: " \n\t ", headers: []string{jsonCT}, status: 400},
		{name: "body/enroll truncated", method: "POST", path: "/v1/enroll", body: enrollBody(csr)[:40], headers: []string{jsonCT}, status: 400},
		{name: "body/enroll empty object", method: "POST", path: "/v1/enroll", body: "{}", headers: []string{jsonCT}, status: 400},
		{name: "body/enroll array", method: "POST", path: "/v1/enroll", body: "[]", headers: []string{jsonCT}, status: 400},
		{name: "body/enroll null", method: "POST", path: "/v1/enroll", body: "null", headers: []string{jsonCT}, status: 400},
		{name: "body/enroll two objects", method: "POST", path: "/v1/enroll", body: enrollBody(csr) + "{}", headers: []string{jsonCT}, status: 400},
		{name: "body/enroll unknown field", method: "POST", path: "/v1/enroll", body: `{"token":"x","csr":"y","admin":true}`, headers: []string{jsonCT}, status: 400},
		{name: "body/enroll wrong types", method: "POST", path: "/v1/enroll", body: `{"token":1,"csr":["x"]}`, headers: []string{jsonCT}, status: 400},
		{name: "body/enroll deep nesting", method: "POST", path: "/v1/enroll", body: strings.Repeat("[", 10000) + strings.Repeat("]", 10000), headers: []string{jsonCT}, status: 400},
		{name: "body/token empty", method: "POST", path: "/oauth2/token", body: "", headers: []string{form}, cert: &good, status: 400, code: "invalid_request"},
		{name: "body/token truncated escape", method: "POST", path: "/oauth2/token", body: tokenForm + "&scope=a%2", headers: []string{form}, cert: &good, status: 400, code: "invalid_request"},
		{name: "body/token semicolon separator", method: "POST", path: "/oauth2/token", body: "grant_type=client_credentials;client_id=svc", headers: []string{form}, cert: &good, status: 400, code: "invalid_request"},
		{name: "body/clients empty", method: "POST", path: "/v1/clients", body: "", headers: []string{jsonCT}, admin: true, status: 400},
		{name: "body/patch truncated", method: "PATCH", path: "/v1/clients/svc", body: `{"scope":"a`, headers: []string{jsonCT}, admin: true, status: 400},
		{name: "size/enroll 64 KiB + 1", method: "POST", path: "/v1/enroll", body: big, headers: []string{jsonCT}, status: 413, code: "request_too_large"},
		{name: "size/renew 64 KiB + 1", method: "POST", path: "/v1/renew", body: big, headers: []string{jsonCT}, cert: &good, status: 413, code: "request_too_large"},
		{name: "size/token 64 KiB + 1", method: "POST", path: "/oauth2/token", body: big, headers: []string{form}, cert: &good, status: 413, code: "request_too_large"},
		{name: "size/introspect 64 KiB + 1", method: "POST", path: "/oauth2/introspect", body: big, headers: []string{form}, admin: true, status: 413, code: "request_too_large"},
		{name: "size/seed token 64 KiB + 1", method: "POST", path: "/auth/oauth/token", body: big, headers: []string{jsonCT}, status: 413, code: "request_too_large"},
		{name: "size/seed clients 64 KiB + 1", method: "POST", path: "/recipe/oauth/clients", body: big, headers: []string{jsonCT}, admin: true, status: 413, code: "request_too_large"},
		{name: "size/clients 64 KiB + 1", method: "POST", path: "/v1/clients", body: big, headers: []string{jsonCT}, admin: true, status: 413, code: "request_too_large"},
		{name: "size/health with a body", method: "GET", path: "/v1/health", body: big, status: 413, code: "request_too_large"},
		{name: "size/token a megabyte of scopes", method: "POST", path: "/oauth2/token", body: tokenForm + "&scope=" + strings.Repeat("a+", 512<<10), headers: []string{form}, cert: &good, status: 413, code: "request_too_large"},
		{name: "size/clients a megabyte of scopes", method: "POST", path: "/v1/clients", body: `{"client_id":"x2","scope":"` + strings.Repeat("s ", 512<<10) + `"}`, headers: []string{jsonCT}, admin: true, status: 413},
		{name: "size/token 60 KiB of scopes", method: "POST", path: "/oauth2/token", body: tokenForm + "&scope=" + strings.Repeat("a+", 30<<10), headers: []string{form}, cert: &good, status: 400, code: "invalid_scope"},
		{name: "size/clients 1000 scopes", method: "POST", path: "/v1/clients", body: `{"client_id":"x3","scope":"` + manyScopes(1000) + `"}`, headers: []string{jsonCT}, admin: true, status: 400, code: "invalid_client_metadata"},
		{name: "size/clients 100 audiences", method: "POST", path: "/v1/clients", body: mustJSON(t, map[string]any{"client_id": "x4", "audience": strings.Split(strings.Repeat("a,", 99)+"a", ",")}), headers: []string{jsonCT}, admin: true, status: 400, code: "invalid_client_metadata"},

		// Invalid UTF-8.
		{name: "utf8/enroll body", method: "POST", path: "/v1/enroll", body: []byte("{\"token\":\"\xff\xfe\",\"csr\":\"x\"}"), headers: []string{jsonCT}, status: 400},
		{name: "utf8/token client_id", method: "POST", path: "/oauth2/token", body: "grant_type=client_credentials&client_id=%ff%fe", headers: []string{form}, cert: &good, status: 400, code: "invalid_request"},
		{name: "utf8/token control character", method: "POST", path: "/oauth2/token", body: "grant_type=client_credentials&client_id=svc%0d%0aX-Injected:%201", headers: []string{form}, cert: &good, status: 400, code: "invalid_request"},
		{name: "utf8/clients name", method: "POST", path: "/v1/clients", body: []byte("{\"client_id\":\"x5\",\"client_name\":\"\xc3\x28\"}"), headers: []string{jsonCT}, admin: true, status: 400},
		{name: "utf8/seed token", method: "POST", path: "/auth/oauth/token", body: []byte("{\"clientId\":\"\xed\xa0\x80\"}"), headers: []string{jsonCT}, status: 400},

		// Parameters twice, or in the URL.
		{name: "dup/token grant_type", method: "POST", path: "/oauth2/token", body: tokenForm + "&grant_type=client_credentials", headers: []string{form}, cert: &good, status: 400, code: "invalid_request"},
		{name: "dup/token client_id", method: "POST", path: "/oauth2/token", body: tokenForm + "&client_id=sec", headers: []string{form}, cert: &good, status: 400, code: "invalid_request"},
		{name: "dup/token scope", method: "POST", path: "/oauth2/token", body: tokenForm + "&scope=a&scope=b", headers: []string{form}, cert: &good, status: 400, code: "invalid_request"},
		{name: "dup/introspect token", method: "POST", path: "/oauth2/introspect", body: "token=a&token=b", headers: []string{form}, admin: true, status: 400, code: "invalid_request"},
		{name: "dup/token credentials in the URL", method: "POST", path: "/oauth2/token?client_id=sec&client_secret=" + secClient.Secret, body: "grant_type=client_credentials", headers: []string{form}, status: 400, code: "invalid_request"},
		{name: "dup/token Basic and client_secret", method: "POST", path: "/oauth2/token", body: "grant_type=client_credentials&client_secret=" + url.QueryEscape(secClient.Secret), headers: []string{form, basic("sec", secClient.Secret)}, status: 400, code: "invalid_request"},
		{name: "dup/enroll duplicate JSON key", method: "POST", path: "/v1/enroll", body: `{"token":"` + pending + `","token":"cbe_other","csr":` + mustJSON(t, csr) + `}`, headers: []string{jsonCT}, status: 400, code: "invalid_request"},
		{name: "dup/clients duplicate JSON key", method: "POST", path: "/v1/clients", body: `{"client_id":"x9","scope":"a","client_id":"svc"}`, headers: []string{jsonCT}, admin: true, status: 400, code: "invalid_request"},
		{name: "dup/seed token duplicate nested key", method: "POST", path: "/auth/oauth/token", body: `{"clientId":"sec","x":{"a":1,"a":2}}`, headers: []string{jsonCT}, status: 400, code: "invalid_request"},
		{name: "dup/admin two Authorization headers", method: "GET", path: "/v1/clients", headers: []string{adminHdr, adminHdr}, status: 401, code: "unauthorized"},

		// Client ids: path traversal, NUL, unicode tricks, SQL.
		{name: "id/get ../", method: "GET", path: "/v1/clients/..%2f..%2fetc%2fpasswd", admin: true, status: 404, code: "not_found"},
		{name: "id/get %2e%2e", method: "GET", path: "/v1/clients/%2e%2e", admin: true, status: 404, code: "not_found"},
		{name: "id/get NUL", method: "GET", path: "/v1/clients/svc%00", admin: true, status: 404, code: "not_found"},
		{name: "id/get RTL override", method: "GET", path: "/v1/clients/%E2%80%AEcvs", admin: true, status: 404, code: "not_found"},
		{name: "id/get fullwidth", method: "GET", path: "/v1/clients/%EF%BD%93%EF%BD%96%EF%BD%83", admin: true, status: 404, code: "not_found"},
		{name: "id/delete ../svc", method: "DELETE", path: "/v1/clients/..%2Fsvc", admin: true, status: 404, code: "not_found"},
		{name: "id/patch SQL", method: "PATCH", path: "/v1/clients/svc'%20OR%20'1'='1", body: `{"disabled":true}`, headers: []string{jsonCT}, admin: true, status: 404, code: "not_found"},
		{name: "id/enrollment token for ..", method: "POST", path: "/v1/clients/%2e%2e/enrollment-tokens", admin: true, status: 404, code: "not_found"},
		{name: "id/enrollment token for unknown", method: "POST", path: "/v1/clients/nobody/enrollment-tokens", admin: true, status: 404, code: "not_found"},
		{name: "id/create ../svc", method: "POST", path: "/v1/clients", body: `{"client_id":"../svc"}`, headers: []string{jsonCT}, admin: true, status: 400, code: "invalid_client_metadata"},
		{name: "id/create NUL", method: "POST", path: "/v1/clients", body: `{"client_id":"svc\u0000"}`, headers: []string{jsonCT}, admin: true, status: 400, code: "invalid_client_metadata"},
		{name: "id/create RTL override", method: "POST", path: "/v1/clients", body: `{"client_id":"\u202ecvs"}`, headers: []string{jsonCT}, admin: true, status: 400, code: "invalid_client_metadata"},
		{name: "id/create SQL", method: "POST", path: "/v1/clients", body: `{"client_id":"x'); DROP TABLE clients;--"}`, headers: []string{jsonCT}, admin: true, status: 400, code: "invalid_client_metadata"},
		{name: "id/create existing", method: "POST", path: "/v1/clients", body: `{"client_id":"svc","scope":"other"}`, headers: []string{jsonCT}, admin: true, status: 409, code: "conflict"},
		{name: "id/token ../../admin", method: "POST", path: "/oauth2/token", body: "grant_type=client_credentials&client_id=..%2F..%2Fadmin", headers: []string{form}, cert: &good, status: 401, code: "invalid_client"},
		{name: "id/token SQL", method: "POST", path: "/oauth2/token", body: "grant_type=client_credentials&client_id=" + url.QueryEscape("svc' OR '1'='1"), headers: []string{form}, cert: &good, status: 401, code: "invalid_client"},
		{name: "id/token RTL override", method: "POST", path: "/oauth2/token", body: "grant_type=client_credentials&client_id=%E2%80%AEsvc", headers: []string{form}, cert: &good, status: 401, code: "invalid_client"},
		{name: "id/token another client's id", method: "POST", path: "/oauth2/token", body: "grant_type=client_credentials&client_id=sec", headers: []string{form}, cert: &good, status: 401, code: "invalid_client"},
		{name: "id/enroll SQL token", method: "POST", path: "/v1/enroll", body: mustJSON(t, map[string]string{"token": "' OR 1=1 --", "csr": csr}), headers: []string{jsonCT}, status: 401, code: "invalid_token"},
		{name: "id/revoke SQL serial", method: "POST", path: "/v1/certificates/1'%20OR%20'1'='1/revoke", admin: true, status: 404, code: "not_found"},
		{name: "id/list SQL client_id", method: "GET", path: "/v1/certificates?client_id=" + url.QueryEscape("svc' OR 1=1--"), admin: true, status: 200,
			check: func(r *servertest.Response) error {
				var l struct{ Certificates []any }
				if err := json.Unmarshal(r.Body, &l); err != nil || len(l.Certificates) != 0 {
					return fmt.Errorf("listed %d certificates (%v)", len(l.Certificates), err)
				}
				return nil
			}},
		{name: "id/list bad limit", method: "GET", path: "/v1/clients?limit=1%20OR%201=1", admin: true, status: 400},
		{name: "id/list huge limit", method: "GET", path: "/v1/certificates?limit=100000000000000000000", admin: true, status: 400},

		// Headers that try to stand in for a client certificate: never counted.
		{name: "header/token X-Client-Cert", method: "POST", path: "/oauth2/token", body: tokenForm, headers: []string{form, "X-Client-Cert: " + url.QueryEscape(goodPEM)}, status: 401, code: "invalid_client"},
		{name: "header/token X-Forwarded-Client-Cert", method: "POST", path: "/oauth2/token", body: tokenForm, headers: []string{form, `X-Forwarded-Client-Cert: Hash=00;Cert="` + url.QueryEscape(goodPEM) + `";URI=spiffe://certbound.local/svc`}, status: 401, code: "invalid_client"},
		{name: "header/token Ssl-Client-Cert", method: "POST", path: "/oauth2/token", body: tokenForm, headers: []string{form, "Ssl-Client-Cert: " + strings.ReplaceAll(goodPEM, "\n", " "), "Ssl-Client-Verify: SUCCESS"}, status: 401, code: "invalid_client"},
		{name: "header/renew X-Client-Cert", method: "POST", path: "/v1/renew", body: mustJSON(t, map[string]string{"csr": csr}), headers: []string{jsonCT, "X-Client-Cert: " + url.QueryEscape(goodPEM)}, status: 401, code: "unauthorized"},
		{name: "header/renew X-Forwarded-Client-Cert", method: "POST", path: "/v1/renew", body: mustJSON(t, map[string]string{"csr": csr}), headers: []string{jsonCT, `X-Forwarded-Client-Cert: Cert="` + url.QueryEscape(goodPEM) + `"`}, status: 401, code: "unauthorized"},
		{name: "header/seed token X-Client-Cert", method: "POST", path: "/auth/oauth/token", body: `{"clientId":"svc","grantType":"client_credentials"}`, headers: []string{jsonCT, "X-Client-Cert: " + url.QueryEscape(goodPEM)}, status: 401, code: "invalid_client"},
		{name: "header/admin via X-Forwarded-For loopback", method: "GET", path: "/v1/clients", headers: []string{"X-Forwarded-For: 127.0.0.1", "X-Real-Ip: 127.0.0.1"}, status: 401, code: "unauthorized"},

		// CSRs: extra extensions, names the token does not allow.
		{name: "csr/enroll asks for CA:true", method: "POST", path: "/v1/enroll", body: enrollBody(csrWith(t, servertest.NewKey(t), func(r *x509.CertificateRequest) {
			r.ExtraExtensions = []pkix.Extension{basicConstraintsCA(t)}
		})), headers: []string{jsonCT}, status: 400, code: "invalid_request"},
		{name: "csr/enroll DNS name not allowed", method: "POST", path: "/v1/enroll", body: enrollBody(servertest.CSR(t, servertest.NewKey(t), "evil.internal")), headers: []string{jsonCT}, status: 403, code: "access_denied"},
		{name: "csr/enroll another client's SPIFFE ID", method: "POST", path: "/v1/enroll", body: enrollBody(csrWith(t, servertest.NewKey(t), func(r *x509.CertificateRequest) {
			r.URIs = []*url.URL{{Scheme: "spiffe", Host: "certbound.local", Path: "/sec"}}
		})), headers: []string{jsonCT}, status: 403, code: "access_denied"},
		{name: "csr/enroll IP SAN", method: "POST", path: "/v1/enroll", body: enrollBody(csrWith(t, servertest.NewKey(t), func(r *x509.CertificateRequest) {
			r.IPAddresses = []net.IP{net.ParseIP("10.0.0.1")}
		})), headers: []string{jsonCT}, status: 403, code: "access_denied"},
		{name: "csr/enroll e-mail SAN", method: "POST", path: "/v1/enroll", body: enrollBody(csrWith(t, servertest.NewKey(t), func(r *x509.CertificateRequest) {
			r.EmailAddresses = []string{"root@example.com"}
		})), headers: []string{jsonCT}, status: 403, code: "access_denied"},
		{name: "csr/enroll RSA 1024", method: "POST", path: "/v1/enroll", body: enrollBody(servertest.CSR(t, rsaKey(t, 1024))), headers: []string{jsonCT}, status: 400, code: "invalid_request"},
		{name: "csr/enroll bad signature", method: "POST", path: "/v1/enroll", body: enrollBody(badSignature(t, csr)), headers: []string{jsonCT}, status: 400, code: "invalid_request"},
		{name: "csr/enroll certificate instead of CSR", method: "POST", path: "/v1/enroll", body: enrollBody(goodPEM), headers: []string{jsonCT}, status: 400, code: "invalid_request"},
		{name: "csr/renew asks for CA:true", method: "POST", path: "/v1/renew", body: mustJSON(t, map[string]string{"csr": csrWith(t, servertest.NewKey(t), func(r *x509.CertificateRequest) {
			r.ExtraExtensions = []pkix.Extension{basicConstraintsCA(t)}
		})}), headers: []string{jsonCT}, cert: &good, status: 400, code: "invalid_request"},
		{name: "csr/renew DNS name not in the certificate", method: "POST", path: "/v1/renew", body: mustJSON(t, map[string]string{"csr": servertest.CSR(t, servertest.NewKey(t), "evil.internal")}), headers: []string{jsonCT}, cert: &good, status: 403, code: "access_denied"},
		{name: "csr/renew superseded certificate", method: "POST", path: "/v1/renew", body: mustJSON(t, map[string]string{"csr": csr}), headers: []string{jsonCT}, cert: &old, status: 403, code: "access_denied"},

		// Admin bodies and credentials.
		{name: "admin/wrong key", method: "GET", path: "/v1/clients", headers: []string{"Authorization: Bearer cba_wrong"}, status: 401, code: "unauthorized"},
		{name: "admin/key as Basic", method: "GET", path: "/v1/clients", headers: []string{"Authorization: Basic " + s.AdminKey}, status: 401, code: "unauthorized"},
		{name: "admin/empty api-key", method: "DELETE", path: "/v1/clients/svc", headers: []string{"Api-Key: "}, status: 401, code: "unauthorized"},
		{name: "admin/seed clients without key", method: "POST", path: "/recipe/oauth/clients", body: `{"clientName":"x"}`, headers: []string{jsonCT}, status: 401, code: "unauthorized"},
		{name: "admin/token ttl too long", method: "POST", path: "/v1/clients/svc/enrollment-tokens", body: `{"ttl":"1000h"}`, headers: []string{jsonCT}, admin: true, status: 400},
		{name: "admin/token ttl negative", method: "POST", path: "/v1/clients/svc/enrollment-tokens", body: `{"ttl":"-5m"}`, headers: []string{jsonCT}, admin: true, status: 400},
		{name: "admin/token ttl garbage", method: "POST", path: "/v1/clients/svc/enrollment-tokens", body: `{"ttl":"9999999999999999999h"}`, headers: []string{jsonCT}, admin: true, status: 400},
		{name: "admin/token wildcard DNS", method: "POST", path: "/v1/clients/svc/enrollment-tokens", body: `{"dns_names":["*.internal"]}`, headers: []string{jsonCT}, admin: true, status: 400},
		{name: "admin/token IPv4 as DNS", method: "POST", path: "/v1/clients/svc/enrollment-tokens", body: `{"dns_names":["10.0.0.1"]}`, headers: []string{jsonCT}, admin: true, status: 400},
		{name: "admin/patch ttl overflow", method: "PATCH", path: "/v1/clients/svc", body: `{"access_token_ttl":9223372037}`, headers: []string{jsonCT}, admin: true, status: 400, code: "invalid_client_metadata"},
		{name: "admin/patch disabled as string", method: "PATCH", path: "/v1/clients/svc", body: `{"disabled":"yes"}`, headers: []string{jsonCT}, admin: true, status: 400},
		{name: "admin/patch scope with quote", method: "PATCH", path: "/v1/clients/svc", body: `{"scope":"a\"b"}`, headers: []string{jsonCT}, admin: true, status: 400, code: "invalid_client_metadata"},
		{name: "admin/patch client_id", method: "PATCH", path: "/v1/clients/svc", body: `{"client_id":"other"}`, headers: []string{jsonCT}, admin: true, status: 400},
		{name: "admin/create audience is the issuer", method: "POST", path: "/v1/clients", body: mustJSON(t, map[string]any{"client_id": "x6", "audience": []string{s.URL}}), headers: []string{jsonCT}, admin: true, status: 400, code: "invalid_client_metadata"},
		{name: "admin/create unsupported auth method", method: "POST", path: "/v1/clients", body: `{"client_id":"x7","token_endpoint_auth_method":"none"}`, headers: []string{jsonCT}, admin: true, status: 400, code: "invalid_client_metadata"},
		{name: "admin/create private key in jwks", method: "POST", path: "/v1/clients", body: `{"client_id":"x8","token_endpoint_auth_method":"self_signed_tls_client_auth","jwks":{"keys":[{"kty":"EC","d":"AAAA"}]}}`, headers: []string{jsonCT}, admin: true, status: 400, code: "invalid_client_metadata"},
		{name: "admin/revoke long reason", method: "POST", path: "/v1/certificates/" + revokedIs.Serial + "/revoke", body: mustJSON(t, map[string]string{"reason": strings.Repeat("r", 300)}), headers: []string{jsonCT}, admin: true, status: 400},
		{name: "admin/delete unknown", method: "DELETE", path: "/v1/clients/nobody", admin: true, status: 404, code: "not_found"},

		// OAuth credentials.
		{name: "oauth/introspect without credentials", method: "POST", path: "/oauth2/introspect", body: "token=x", headers: []string{form}, status: 401, code: "invalid_client"},
		{name: "oauth/introspect wrong secret", method: "POST", path: "/oauth2/introspect", body: "token=x", headers: []string{form, basic("sec", "cbs_wrong")}, status: 401, code: "invalid_client"},
		{name: "oauth/token wrong secret", method: "POST", path: "/oauth2/token", body: "grant_type=client_credentials", headers: []string{form, basic("sec", "cbs_wrong")}, status: 401, code: "invalid_client"},
		{name: "oauth/token malformed Basic", method: "POST", path: "/oauth2/token", body: "grant_type=client_credentials", headers: []string{form, "Authorization: Basic !!!"}, status: 401, code: "invalid_client"},
		{name: "oauth/token bad percent in Basic", method: "POST", path: "/oauth2/token", body: "grant_type=client_credentials", headers: []string{form, basic("sec%zz", "x")}, status: 400, code: "invalid_request"},
		{name: "oauth/token unknown grant", method: "POST", path: "/oauth2/token", body: "grant_type=password&client_id=svc", headers: []string{form}, cert: &good, status: 400, code: "unsupported_grant_type"},
		{name: "oauth/token scope not allowed", method: "POST", path: "/oauth2/token", body: tokenForm + "&scope=admin", headers: []string{form}, cert: &good, status: 400, code: "invalid_scope"},
		{name: "oauth/token relative resource", method: "POST", path: "/oauth2/token", body: tokenForm + "&resource=aud", headers: []string{form}, cert: &good, status: 400, code: "invalid_target"},
		{name: "oauth/token audience not allowed", method: "POST", path: "/oauth2/token", body: tokenForm + "&audience=other", headers: []string{form}, cert: &good, status: 400, code: "invalid_target"},
		{name: "oauth/seed token wrong secret", method: "POST", path: "/auth/oauth/token", body: `{"clientId":"sec","clientSecret":"cbs_wrong","grantType":"client_credentials"}`, headers: []string{jsonCT}, status: 401, code: "invalid_client"},
	}

	// Every fixture certificate, at both doors that take a certificate.
	renewBody := mustJSON(t, map[string]string{"csr": csr})
	for _, f := range fixtures {
		cases = append(cases,
			hostileCase{name: "cert/renew " + f.name, method: "POST", path: "/v1/renew", body: renewBody, headers: []string{jsonCT}, cert: &f.cert, status: 401, code: "unauthorized", reason: f.renewReason},
			hostileCase{name: "cert/token " + f.name, method: "POST", path: "/oauth2/token", body: tokenForm, headers: []string{form}, cert: &f.cert, status: 401, code: "invalid_client", reason: f.tokenReason},
		)
	}

	db := s.OpenDB(t)
	clients := map[*tls.Certificate]*http.Client{nil: s.HTTPClient()}
	var summary strings.Builder
	counts := map[int]int{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hc, ok := clients[tc.cert]
			if !ok {
				hc = s.HTTPClient(*tc.cert)
				clients[tc.cert] = hc
			}
			headers := tc.headers
			if tc.admin {
				headers = append([]string{adminHdr}, headers...)
			}
			before := s.Snapshot(t, db)
			r := s.Do(t, hc, tc.method, tc.path, rawBody(tc.body), headers...)
			counts[r.Status]++
			fmt.Fprintf(&summary, "  %-3d %-22s %s\n", r.Status, r.ErrorCode(), tc.name)
			if r.Status >= 500 {
				t.Fatalf("5xx: %d %s", r.Status, r.Body)
			}
			if r.Status != tc.status {
				t.Errorf("status %d (%s), want %d", r.Status, r.Body, tc.status)
			}
			if r.Status >= 400 {
				if err := checkErrorBody(r, tc.code); err != nil {
					t.Error(err)
				}
			} else if tc.check != nil {
				if err := tc.check(r); err != nil {
					t.Error(err)
				}
			}
			if tc.reason != "" {
				if got := loggedReason(s.Log(), r.Header.Get("X-Request-Id")); got != tc.reason {
					t.Errorf("logged reason %q, want %q", got, tc.reason)
				}
			}
			if d := before.Diff(s.Snapshot(t, db)); len(d) != 0 {
				t.Fatalf("the database changed: %v", d)
			}
		})
	}
	// The pending token survived every refused CSR.
	if _, is := s.Enroll(t, pending, "ok.internal"); is.Serial == "" {
		t.Fatal("the pending token no longer works")
	}
	if len(cases) < 80 {
		t.Errorf("only %d hostile cases", len(cases))
	}
	t.Logf("%d hostile cases, by status %v:\n%s", len(cases), counts, summary.String())
}

// loggedReason finds the access-log line of request id and returns its reason.
func loggedReason(log, id string) string {
	for _, line := range strings.Split(log, "\n") {
		if id == "" || !strings.Contains(line, "msg=request ") || !strings.Contains(line, "request_id="+id+" ") {
			continue
		}
		_, after, ok := strings.Cut(line, " reason=")
		if !ok {
			return ""
		}
		reason, _, _ := strings.Cut(after, " ")
		return reason
	}
	return ""
}

// servertestBodyLimit is SPEC §3's 64 KiB.
const servertestBodyLimit = 64 << 10

// checkErrorBody checks SPEC §5: a JSON body with error and
// error_description, the expected code, and a challenge on every 401.
func checkErrorBody(r *servertest.Response, code string) error {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/json" {
		return fmt.Errorf("error with Content-Type %q", r.Header.Get("Content-Type"))
	}
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.Unmarshal(r.Body, &e); err != nil || e.Error == "" || e.Description == "" {
		return fmt.Errorf("error body %s lacks error or error_description (%v)", r.Body, err)
	}
	if code != "" && e.Error != code {
		return fmt.Errorf("error %q, want %q", e.Error, code)
	}
	if r.Status == 401 && r.Header.Get("WWW-Authenticate") == "" {
		return fmt.Errorf("401 without WWW-Authenticate")
	}
	if r.Status == 429 && r.Header.Get("Retry-After") == "" {
		return fmt.Errorf("429 without Retry-After")
	}
	return nil
}

// rawBody keeps servertest.Do from JSON-encoding strings: hostile bodies go
// out byte for byte.
func rawBody(b any) any {
	switch v := b.(type) {
	case nil:
		return nil
	case string:
		return []byte(v)
	}
	return b
}

// manyScopes returns n distinct scope tokens.
func manyScopes(n int) string {
	s := make([]string, n)
	for i := range s {
		s[i] = fmt.Sprintf("s%d", i)
	}
	return strings.Join(s, " ")
}

func first[A, B any](a A, _ B) A { return a }

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// csrWith returns a PEM CSR for key after mod adjusts the template.
func csrWith(t testing.TB, key crypto.Signer, mod func(*x509.CertificateRequest)) string {
	t.Helper()
	tmpl := &x509.CertificateRequest{Subject: pkix.Name{CommonName: "svc"}}
	mod(tmpl)
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(certs.EncodeCSR(der))
}

// basicConstraintsCA is a basicConstraints extension with cA = TRUE.
func basicConstraintsCA(t testing.TB) pkix.Extension {
	t.Helper()
	v, err := asn1.Marshal(struct{ IsCA bool }{true})
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 19}, Critical: true, Value: v}
}

func rsaKey(t testing.TB, bits int) crypto.Signer {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// badSignature flips a byte of the CSR's signature.
func badSignature(t testing.TB, csrPEM string) string {
	t.Helper()
	csr, err := certs.ParseCSR([]byte(csrPEM))
	if err != nil {
		t.Fatal(err)
	}
	der := append([]byte(nil), csr.Raw...)
	der[len(der)-4] ^= 0xff
	return string(certs.EncodeCSR(der))
}
