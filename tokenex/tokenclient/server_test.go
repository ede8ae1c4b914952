package tokenclient_test

// This file holds the shared fixtures: a real root → intermediate CA, client
// certificates from it, and tokenServer, a stand-in for certbound's token
// endpoint (SPEC §8) on real TLS over 127.0.0.1.

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/certbound/certbound/certs"
)

type testCA struct {
	root, inter *x509.Certificate
	interKey    *ecdsa.PrivateKey
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	rootKey, interKey := newKey(t), newKey(t)
	ca := &testCA{interKey: interKey}
	ca.root = createCert(t, &x509.Certificate{
		Subject: pkix.Name{CommonName: "test root"}, IsCA: true, BasicConstraintsValid: true,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign,
	}, nil, rootKey.Public(), rootKey)
	ca.inter = createCert(t, &x509.Certificate{
		Subject: pkix.Name{CommonName: "test intermediate"}, IsCA: true, BasicConstraintsValid: true,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign, MaxPathLenZero: true,
	}, ca.root, interKey.Public(), rootKey)
	return ca
}

// clientCert issues an X.509-SVID for clientID with a fresh key.
func (ca *testCA) clientCert(t testing.TB, clientID string) tls.Certificate {
	t.Helper()
	key := newKey(t)
	id, err := certs.NewID("certbound.local", clientID)
	if err != nil {
		t.Fatal(err)
	}
	leaf := createCert(t, &x509.Certificate{
		Subject: pkix.Name{CommonName: clientID}, URIs: []*url.URL{id.URL()},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}, ca.inter, key.Public(), ca.interKey)
	return tls.Certificate{Certificate: [][]byte{leaf.Raw, ca.inter.Raw}, PrivateKey: key, Leaf: leaf}
}

func (ca *testCA) serverCert(t testing.TB) tls.Certificate {
	t.Helper()
	return ca.serverCertFor(t, certs.ServerURL("certbound.local")) // certbound's server identity, as ca.IssueServer makes it
}

// serviceServerCert is a service's certificate for 127.0.0.1: a resource
// server, not certbound.
func (ca *testCA) serviceServerCert(t testing.TB) tls.Certificate {
	t.Helper()
	return ca.serverCertFor(t, &url.URL{Scheme: "spiffe", Host: "certbound.local", Path: "/calendar"})
}

func (ca *testCA) serverCertFor(t testing.TB, id *url.URL) tls.Certificate {
	t.Helper()
	key := newKey(t)
	leaf := createCert(t, &x509.Certificate{
		Subject: pkix.Name{CommonName: "server"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		URIs:      []*url.URL{id},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca.inter, key.Public(), ca.interKey)
	return tls.Certificate{Certificate: [][]byte{leaf.Raw, ca.inter.Raw}, PrivateKey: key, Leaf: leaf}
}

func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.root)
	return p
}

// verifyPeer returns the client id of a verified client certificate chain.
func (ca *testCA) verifyPeer(chain []*x509.Certificate) (string, bool) {
	if len(chain) == 0 {
		return "", false
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	if _, err := chain[0].Verify(x509.VerifyOptions{
		Roots: ca.pool(), Intermediates: inter,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}); err != nil {
		return "", false
	}
	id, err := certs.IDFromCertificate(chain[0])
	if err != nil {
		return "", false
	}
	return id.ClientID, true
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func createCert(t testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) *x509.Certificate {
	t.Helper()
	tmpl.SerialNumber = certs.NewSerial(time.Now())
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// tokenServer speaks POST /oauth2/token as SPEC §8 fixes it: form-encoded
// client_credentials, tls_client_auth against the CA, or a client secret
// (Basic or post) for the client "svc-p"; tokens bound to the presented
// certificate. It records every request.
type tokenServer struct {
	ca  *testCA
	srv *httptest.Server
	URL string // the token endpoint

	mu        sync.Mutex
	expiresIn int64         // default 3600
	delay     time.Duration // before answering
	tokenType string        // default "Bearer"
	fail      []tokenFailure
	reqs      []tokenRequest
	n         atomic.Int64
}

// Secret of the client_secret_* client "svc-p"; unreserved characters plus
// some that need form-urlencoding (RFC 6749 §2.3.1, Appendix B).
const pSecret = "p-secret+/=:%"

type tokenRequest struct {
	form      url.Values
	basicUser string // "" if no Basic header
	x5t       string // thumbprint of the presented certificate, "" if none
	token     string // the access token issued, "" if refused
}

type tokenFailure struct {
	status     int
	body       string
	retryAfter string
}

func newTokenServer(t testing.TB, ca *testCA) *tokenServer {
	t.Helper()
	ts := &tokenServer{ca: ca, expiresIn: 3600, tokenType: "Bearer"}
	ts.srv = httptest.NewUnstartedServer(http.HandlerFunc(ts.handle))
	ts.srv.TLS = &tls.Config{
		MinVersion:   tls.VersionTLS12,
		ClientAuth:   tls.RequestClientCert,
		Certificates: []tls.Certificate{ca.serverCert(t)},
	}
	ts.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	ts.srv.StartTLS()
	t.Cleanup(ts.srv.Close)
	ts.URL = ts.srv.URL + "/oauth2/token"
	return ts
}

// client returns an mTLS client whose certificate is *cert at each handshake.
func (ts *tokenServer) client(cert *atomic.Pointer[tls.Certificate]) *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: ts.ca.pool(),
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if cert == nil || cert.Load() == nil {
				return &tls.Certificate{}, nil
			}
			return cert.Load(), nil
		},
	}}}
}

func (ts *tokenServer) failNext(f tokenFailure) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.fail = append(ts.fail, f)
}

func (ts *tokenServer) set(f func(ts *tokenServer)) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	f(ts)
}

func (ts *tokenServer) requests() []tokenRequest {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return slices.Clone(ts.reqs)
}

func (ts *tokenServer) handle(w http.ResponseWriter, r *http.Request) {
	rec := tokenRequest{}
	if len(r.TLS.PeerCertificates) > 0 {
		rec.x5t = certs.X5tS256(r.TLS.PeerCertificates[0].Raw)
	}
	var f *tokenFailure
	ts.mu.Lock()
	if len(ts.fail) > 0 {
		f, ts.fail = &ts.fail[0], ts.fail[1:]
	}
	delay, expiresIn, tokenType := ts.delay, ts.expiresIn, ts.tokenType
	ts.mu.Unlock()
	defer func() {
		ts.mu.Lock()
		ts.reqs = append(ts.reqs, rec)
		ts.mu.Unlock()
	}()
	time.Sleep(delay)

	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "POST a form")
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "bad form")
		return
	}
	rec.form = r.PostForm
	if user, _, ok := r.BasicAuth(); ok {
		rec.basicUser = user
	}
	if f != nil {
		if f.retryAfter != "" {
			w.Header().Set("Retry-After", f.retryAfter)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.status)
		io.WriteString(w, f.body)
		return
	}
	for k, v := range r.PostForm {
		if len(v) != 1 {
			oauthError(w, http.StatusBadRequest, "invalid_request", "repeated parameter "+k)
			return
		}
	}
	if r.PostForm.Get("grant_type") != "client_credentials" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "client_credentials only")
		return
	}
	if !ts.authenticate(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="certbound"`)
		oauthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	rec.token = fmt.Sprintf("at-%d", ts.n.Add(1))
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	json.NewEncoder(w).Encode(map[string]any{
		"access_token": rec.token, "token_type": tokenType, "expires_in": expiresIn, "scope": "event.read",
	})
}

func (ts *tokenServer) authenticate(r *http.Request) bool {
	if user, pass, ok := r.BasicAuth(); ok {
		u, err1 := url.QueryUnescape(user)
		p, err2 := url.QueryUnescape(pass)
		return err1 == nil && err2 == nil && u == "svc-p" && p == pSecret && r.PostForm.Get("client_secret") == ""
	}
	id := r.PostForm.Get("client_id")
	if secret := r.PostForm.Get("client_secret"); secret != "" {
		return id == "svc-p" && secret == pSecret
	}
	got, ok := ts.ca.verifyPeer(r.TLS.PeerCertificates)
	return ok && got == id
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}
