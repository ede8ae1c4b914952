package verify_test

import (
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/certbound/certbound/certs"
	"github.com/certbound/certbound/tokenex/verify"
)

// resourceServer serves h over real TLS on 127.0.0.1 and, like production,
// requests a client certificate without verifying it (RFC 8705 §6.2).
func resourceServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{MinVersion: tls.VersionTLS12, ClientAuth: tls.RequestClientCert}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// clientFor returns an HTTP client for srv that presents cert (none if nil).
func clientFor(srv *httptest.Server, cert *clientCert) *http.Client {
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.TLSClientConfig.Certificates = nil
	if cert != nil {
		tr.TLSClientConfig.Certificates = []tls.Certificate{cert.tls}
	}
	return &http.Client{Transport: tr}
}

// response is what a test checks of a reply.
type response struct {
	status    int
	challenge string
	body      struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	subject string // the X-Subject the handler wrote: the claims it saw
}

func do(t *testing.T, c *http.Client, req *http.Request) response {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	defer resp.Body.Close()
	r := response{status: resp.StatusCode, challenge: resp.Header.Get("WWW-Authenticate"), subject: resp.Header.Get("X-Subject")}
	if resp.StatusCode != http.StatusOK {
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("error Content-Type = %q, want application/json", ct)
		}
		if err := json.NewDecoder(resp.Body).Decode(&r.body); err != nil {
			t.Fatalf("error body: %v", err)
		}
	}
	return r
}

// protected is the handler behind the middleware: it reports the subject of
// the claims it finds in its context.
var protected = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	c, ok := verify.ClaimsFromContext(r.Context())
	if !ok {
		http.Error(w, "no claims", http.StatusInternalServerError)
		return
	}
	w.Header().Set("X-Subject", c.Subject)
})

func TestRequireScopes(t *testing.T) {
	as := newAuthServer(t, newECKey(t))
	clk := newClock()
	v := newVerifier(t, as, clk, nil)
	certA, certB := newClientCert(t, "svc-a"), newClientCert(t, "svc-b")
	mux := http.NewServeMux()
	mux.Handle("GET /events", verify.RequireScopes(v, "event.read")(protected))
	mux.Handle("DELETE /events", verify.RequireScopes(v, "event.read", "event.admin")(protected))
	srv := resourceServer(t, mux)
	tokA := as.mint(t, clk.Now(), certA.leaf)
	expired := as.newToken(clk.Now().Add(-2*verify.DefaultLeeway), certA.leaf)
	expired.claims["exp"] = clk.Now().Add(-2 * verify.DefaultLeeway).Unix()
	tokExpired := as.sign(t, expired)

	const invalidToken = `Bearer realm="certbound", error="invalid_token", error_description="`
	tests := []struct {
		name          string
		method        string
		cert          *clientCert
		header        map[string][]string
		query         string
		wantStatus    int
		wantChallenge string // prefix; "" for none
		wantError     string
	}{
		{name: "accept/bound-token-matching-cert", cert: &certA,
			header: bearer(tokA), wantStatus: 200},
		{name: "accept/lowercase-scheme", cert: &certA,
			header: map[string][]string{"Authorization": {"bearer " + tokA}}, wantStatus: 200},
		{name: "reject/replay-from-other-cert", cert: &certB, header: bearer(tokA),
			wantStatus: 401, wantChallenge: invalidToken, wantError: verify.CodeInvalidToken},
		{name: "reject/replay-without-cert", header: bearer(tokA),
			wantStatus: 401, wantChallenge: invalidToken, wantError: verify.CodeInvalidToken},
		{name: "reject/expired", cert: &certA, header: bearer(tokExpired),
			wantStatus: 401, wantChallenge: invalidToken + "the access token expired", wantError: verify.CodeInvalidToken},
		{name: "reject/garbage-token", cert: &certA, header: bearer("x.y.z"),
			wantStatus: 401, wantChallenge: invalidToken, wantError: verify.CodeInvalidToken},
		{name: "reject/no-token-bare-challenge", cert: &certA,
			wantStatus: 401, wantChallenge: `Bearer realm="certbound"`, wantError: verify.CodeUnauthorized},
		{name: "reject/basic-scheme-bare-challenge", cert: &certA,
			header:     map[string][]string{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte("a:b"))}},
			wantStatus: 401, wantChallenge: `Bearer realm="certbound"`, wantError: verify.CodeUnauthorized},
		{name: "reject/missing-scope", method: http.MethodDelete, cert: &certA, header: bearer(tokA),
			wantStatus:    403,
			wantChallenge: `Bearer realm="certbound", error="insufficient_scope", error_description="the access token lacks a required scope", scope="event.read event.admin"`,
			wantError:     verify.CodeInsufficientScope},
		{name: "reject/two-authorization-headers", cert: &certA,
			header:     map[string][]string{"Authorization": {"Bearer " + tokA, "Bearer " + tokA}},
			wantStatus: 400, wantChallenge: `Bearer realm="certbound", error="invalid_request"`, wantError: verify.CodeInvalidRequest},
		{name: "reject/empty-bearer", cert: &certA,
			header:     map[string][]string{"Authorization": {"Bearer"}},
			wantStatus: 400, wantChallenge: `Bearer realm="certbound", error="invalid_request"`, wantError: verify.CodeInvalidRequest},
		{name: "reject/token-in-query", cert: &certA, query: "access_token=" + tokA,
			wantStatus: 400, wantChallenge: `Bearer realm="certbound", error="invalid_request"`, wantError: verify.CodeInvalidRequest},
		{name: "reject/certificate-header-without-trusted-proxy",
			header: map[string][]string{
				"Authorization":     {"Bearer " + tokA},
				"X-Ssl-Client-Cert": {url.PathEscape(string(certs.EncodeCertificates(certA.leaf)))},
				"Client-Cert":       {":" + base64.StdEncoding.EncodeToString(certA.leaf.Raw) + ":"},
			},
			wantStatus: 401, wantChallenge: invalidToken, wantError: verify.CodeInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+"/events?"+tt.query, nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, vs := range tt.header {
				req.Header[k] = vs
			}
			got := do(t, clientFor(srv, tt.cert), req)
			if got.status != tt.wantStatus {
				t.Fatalf("status = %d, want %d (%+v)", got.status, tt.wantStatus, got.body)
			}
			if tt.wantStatus == 200 {
				if got.subject != "svc-a" {
					t.Errorf("handler saw subject %q, want svc-a", got.subject)
				}
				return
			}
			if !strings.HasPrefix(got.challenge, tt.wantChallenge) {
				t.Errorf("WWW-Authenticate = %q, want prefix %q", got.challenge, tt.wantChallenge)
			}
			if tt.wantError == verify.CodeUnauthorized && got.challenge != tt.wantChallenge {
				t.Errorf("WWW-Authenticate = %q, want the bare %q (RFC 6750 §3.1)", got.challenge, tt.wantChallenge)
			}
			if got.body.Error != tt.wantError {
				t.Errorf("body error = %q, want %q", got.body.Error, tt.wantError)
			}
		})
	}
}

func bearer(tok string) map[string][]string {
	return map[string][]string{"Authorization": {"Bearer " + tok}}
}

// TestTrustedProxy: a certificate header counts only when the operator
// configured the proxy and the request comes from it; then the TLS
// connection's own certificate (the proxy's) does not count.
func TestTrustedProxy(t *testing.T) {
	as := newAuthServer(t, newECKey(t))
	clk := newClock()
	certA, certProxy := newClientCert(t, "svc-a"), newClientCert(t, "proxy")
	tokA := as.mint(t, clk.Now(), certA.leaf)
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	elsewhere := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	pemHeader := url.PathEscape(string(certs.EncodeCertificates(certA.leaf)))
	rfc9440 := ":" + base64.StdEncoding.EncodeToString(certA.leaf.Raw) + ":"

	tests := []struct {
		name       string
		proxy      *verify.TrustedProxy
		cert       *clientCert // what the "proxy" presents over TLS
		header     string      // value of the certificate header; "" for none
		wantStatus int
	}{
		{"accept/escaped-pem-from-proxy", &verify.TrustedProxy{Header: "X-SSL-Client-Cert", From: loopback}, &certProxy, pemHeader, 200},
		{"accept/rfc9440-from-proxy", &verify.TrustedProxy{Header: "Client-Cert", From: loopback}, nil, rfc9440, 200},
		{"reject/no-proxy-configured", nil, nil, pemHeader, 401},
		{"reject/request-not-from-proxy", &verify.TrustedProxy{Header: "X-SSL-Client-Cert", From: elsewhere}, nil, pemHeader, 401},
		{"reject/proxy-tls-cert-does-not-count", &verify.TrustedProxy{Header: "X-SSL-Client-Cert", From: loopback}, &certA, "", 401},
		{"reject/other-header-name", &verify.TrustedProxy{Header: "X-Client-Cert", From: loopback}, nil, pemHeader, 401},
		{"reject/malformed-header", &verify.TrustedProxy{Header: "X-SSL-Client-Cert", From: loopback}, nil, "%ZZ", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVerifier(t, as, clk, func(c *verify.Config) { c.TrustedProxy = tt.proxy })
			srv := resourceServer(t, verify.RequireScopes(v, "event.read")(protected))
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+tokA)
			if tt.header != "" {
				req.Header.Set("X-SSL-Client-Cert", tt.header)
				req.Header.Set("Client-Cert", tt.header)
			}
			got := do(t, clientFor(srv, tt.cert), req)
			if got.status != tt.wantStatus {
				t.Fatalf("status = %d, want %d (%+v)", got.status, tt.wantStatus, got.body)
			}
		})
	}
}

// TestAuthorizeErrors checks the sentinels Authorize wraps, without HTTP.
func TestAuthorizeErrors(t *testing.T) {
	as := newAuthServer(t, newECKey(t))
	clk := newClock()
	v := newVerifier(t, as, clk, nil)
	certA := newClientCert(t, "svc-a")
	tok := as.mint(t, clk.Now(), certA.leaf)
	tests := []struct {
		name    string
		auth    []string
		scopes  []string
		wantErr error
	}{
		{"accept/no-scopes-required", []string{"Bearer " + tok}, nil, nil},
		{"accept/all-scopes", []string{"Bearer   " + tok}, []string{"event.read", "event.create"}, nil},
		{"reject/no-header", nil, nil, verify.ErrNoToken},
		{"reject/other-scheme", []string{"DPoP " + tok}, nil, verify.ErrNoToken},
		{"reject/two-headers", []string{"Bearer " + tok, "Bearer x"}, nil, verify.ErrInvalidRequest},
		{"reject/scope", []string{"Bearer " + tok}, []string{"event.admin"}, verify.ErrInsufficientScope},
		{"reject/scope-case", []string{"Bearer " + tok}, []string{"Event.Read"}, verify.ErrInsufficientScope},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "https://rs.test/", nil)
			r.TLS = &tls.ConnectionState{}
			r.TLS.PeerCertificates = append(r.TLS.PeerCertificates, certA.leaf)
			if tt.auth != nil {
				r.Header["Authorization"] = tt.auth
			}
			c, err := v.Authorize(r, tt.scopes...)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Authorize() error = %v, want %v", err, tt.wantErr)
			}
			if err == nil && c.ClientID != "svc-a" {
				t.Errorf("Authorize() claims = %+v", c)
			}
		})
	}
}

func TestWriteErrorRealm(t *testing.T) {
	as := newAuthServer(t, newECKey(t))
	v := newVerifier(t, as, newClock(), func(c *verify.Config) { c.Realm = "events" })
	rec := httptest.NewRecorder()
	_, err := v.Authorize(httptest.NewRequest(http.MethodGet, "/", nil))
	v.WriteError(rec, err)
	if got, want := rec.Header().Get("WWW-Authenticate"), `Bearer realm="events"`; got != want {
		t.Errorf("WWW-Authenticate = %q, want %q", got, want)
	}
	rec = httptest.NewRecorder()
	v.WriteError(rec, errors.New("database on fire"))
	if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "fire") {
		t.Errorf("foreign error: status %d body %q, want 500 without the error text", rec.Code, rec.Body.String())
	}
}

// TestTrustedProxyAddresses checks which remote addresses count as the proxy.
func TestTrustedProxyAddresses(t *testing.T) {
	as := newAuthServer(t, newECKey(t))
	clk := newClock()
	certA := newClientCert(t, "svc-a")
	tok := as.mint(t, clk.Now(), certA.leaf)
	pemHeader := url.PathEscape(string(certs.EncodeCertificates(certA.leaf)))
	tests := []struct {
		name       string
		from       string
		remoteAddr string
		headers    []string
		wantErr    error
	}{
		{"accept/ipv4", "10.0.0.0/8", "10.1.2.3:5555", []string{pemHeader}, nil},
		{"accept/ipv4-mapped-remote", "10.0.0.0/8", "[::ffff:10.1.2.3]:5555", []string{pemHeader}, nil},
		{"accept/ipv4-mapped-prefix", "::ffff:10.0.0.0/104", "10.1.2.3:5555", []string{pemHeader}, nil},
		{"accept/ipv6", "fd00::/8", "[fd00::1]:443", []string{pemHeader}, nil},
		{"reject/outside", "10.0.0.0/8", "192.0.2.1:5555", []string{pemHeader}, verify.ErrCertificateRequired},
		{"reject/unparsable-remote", "10.0.0.0/8", "proxy", []string{pemHeader}, verify.ErrCertificateRequired},
		{"reject/no-header", "10.0.0.0/8", "10.1.2.3:5555", nil, verify.ErrCertificateRequired},
		{"reject/two-headers", "10.0.0.0/8", "10.1.2.3:5555", []string{pemHeader, pemHeader}, verify.ErrInvalidRequest},
		{"reject/pem-with-two-certificates", "10.0.0.0/8", "10.1.2.3:5555",
			[]string{url.PathEscape(string(certs.EncodeCertificates(certA.leaf, certA.leaf)))}, verify.ErrInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVerifier(t, as, clk, func(c *verify.Config) {
				c.TrustedProxy = &verify.TrustedProxy{Header: "x-ssl-client-cert", From: []netip.Prefix{netip.MustParsePrefix(tt.from)}}
			})
			r := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "https://rs.test/", nil)
			r.RemoteAddr = tt.remoteAddr
			r.Header.Set("Authorization", "Bearer "+tok)
			r.Header["X-Ssl-Client-Cert"] = tt.headers
			_, err := v.Authorize(r)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Authorize() error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}
