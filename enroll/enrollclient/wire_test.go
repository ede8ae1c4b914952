package enrollclient_test

// This file holds the fixtures every test here shares: testCA, a real
// root → intermediate CA made with crypto/x509, and wireServer, a stand-in for
// the certbound server that speaks exactly the enrollment wire protocol of
// SPEC §7 over real TLS on 127.0.0.1.

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/certbound/certbound/certs"
)

const trustDomain = "certbound.local"

// testCA is a real two-level CA: a self-signed root and an intermediate.
type testCA struct {
	root, inter       *x509.Certificate
	rootKey, interKey *ecdsa.PrivateKey
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	ca := &testCA{rootKey: newKey(t), interKey: newKey(t)}
	now := time.Now()
	ca.root = createCert(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: "test root"},
		NotBefore:             now.Add(-24 * time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}, nil, ca.rootKey.Public(), ca.rootKey)
	ca.inter = createCert(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: "test intermediate"},
		NotBefore:             now.Add(-24 * time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}, ca.root, ca.interKey.Public(), ca.rootKey)
	return ca
}

// issueLeaf issues an X.509-SVID for clientID, as certbound's profile does:
// one URI SAN, serverAuth + clientAuth, not a CA.
func (ca *testCA) issueLeaf(t testing.TB, pub crypto.PublicKey, clientID string, dns []string, notBefore, notAfter time.Time) *x509.Certificate {
	t.Helper()
	id, err := certs.NewID(trustDomain, clientID)
	if err != nil {
		t.Fatal(err)
	}
	return createCert(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: clientID},
		URIs:                  []*url.URL{id.URL()},
		DNSNames:              dns,
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}, ca.inter, pub, ca.interKey)
}

// serverCertificate is the wire server's own TLS certificate for 127.0.0.1,
// with certbound's server identity as ca.IssueServer makes it.
func (ca *testCA) serverCertificate(t testing.TB) tls.Certificate {
	t.Helper()
	key := newKey(t)
	leaf := createCert(t, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "certbound server"},
		URIs:        []*url.URL{certs.ServerURL(trustDomain)},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:    []string{"localhost"},
		NotBefore:   time.Now().Add(-time.Hour),
		NotAfter:    time.Now().Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca.inter, key.Public(), ca.interKey)
	return tls.Certificate{Certificate: [][]byte{leaf.Raw, ca.inter.Raw}, PrivateKey: key, Leaf: leaf}
}

func (ca *testCA) fingerprint() string { return certs.Fingerprint(ca.root.Raw) }

func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.root)
	return p
}

// writeIdentity writes key.pem, cert.pem and ca.pem the way Enroll does,
// for a fresh key and a leaf valid from notBefore to notAfter. It returns the
// key and the leaf.
func (ca *testCA) writeIdentity(t testing.TB, dir string, notBefore, notAfter time.Time) (*ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key := newKey(t)
	leaf := ca.issueLeaf(t, key.Public(), "svc-a", nil, notBefore, notAfter)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "key.pem"), keyPEM(t, key), 0o600)
	writeFile(t, filepath.Join(dir, "cert.pem"), certs.EncodeCertificates(leaf, ca.inter), 0o644)
	writeFile(t, filepath.Join(dir, "ca.pem"), certs.EncodeCertificates(ca.root), 0o644)
	return key, leaf
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func keyPEM(t testing.TB, key crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func writeFile(t testing.TB, path string, data []byte, perm os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, data, perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil { // os.WriteFile leaves an existing file's mode
		t.Fatal(err)
	}
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

// wireServer speaks SPEC §7 — GET /v1/roots, POST /v1/enroll and POST
// /v1/renew — backed by a testCA. It records what it received so tests can
// prove, for example, that a token never reached it.
type wireServer struct {
	ca  *testCA
	srv *httptest.Server
	URL string

	mu       sync.Mutex
	lifetime time.Duration            // leaf lifetime; default 1h
	backdate time.Duration            // NotBefore = now - backdate
	grants   map[string]grant         // unused enrollment tokens
	tokens   []string                 // every token value POSTed to /v1/enroll
	hits     map[string][]time.Time   // path → arrival times
	failures map[string][]wireFailure // path → queued refusals, served first
	roots    []*x509.Certificate      // what GET /v1/roots serves; default the CA root
}

type grant struct {
	clientID string
	dns      []string
}

type wireFailure struct {
	status     int
	code, desc string
	retryAfter string
}

func newWireServer(t testing.TB, ca *testCA) *wireServer {
	t.Helper()
	ws := &wireServer{
		ca:       ca,
		lifetime: time.Hour,
		grants:   map[string]grant{},
		hits:     map[string][]time.Time{},
		failures: map[string][]wireFailure{},
		roots:    []*x509.Certificate{ca.root},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/roots", ws.handleRoots)
	mux.HandleFunc("POST /v1/enroll", ws.handleEnroll)
	mux.HandleFunc("POST /v1/renew", ws.handleRenew)
	ws.srv = httptest.NewUnstartedServer(ws.record(mux))
	ws.srv.TLS = &tls.Config{
		MinVersion:   tls.VersionTLS12,
		ClientAuth:   tls.RequestClientCert, // as certbound's listener: each route verifies
		Certificates: []tls.Certificate{ca.serverCertificate(t)},
	}
	ws.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshakes a test refuses on purpose
	ws.srv.StartTLS()
	t.Cleanup(ws.srv.Close)
	ws.URL = ws.srv.URL
	return ws
}

// addToken makes tok redeemable once for clientID with the given DNS names.
func (ws *wireServer) addToken(tok, clientID string, dns ...string) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	ws.grants[tok] = grant{clientID: clientID, dns: dns}
}

func (ws *wireServer) removeToken(tok string) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	delete(ws.grants, tok)
}

// setRoots changes what GET /v1/roots serves.
func (ws *wireServer) setRoots(roots ...*x509.Certificate) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	ws.roots = roots
}

// failNext queues a refusal for the next request to path.
func (ws *wireServer) failNext(path string, f wireFailure) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	ws.failures[path] = append(ws.failures[path], f)
}

func (ws *wireServer) setLifetime(life, backdate time.Duration) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	ws.lifetime, ws.backdate = life, backdate
}

func (ws *wireServer) times(path string) []time.Time {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return slices.Clone(ws.hits[path])
}

func (ws *wireServer) tokensSeen() []string {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return slices.Clone(ws.tokens)
}

func (ws *wireServer) record(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws.mu.Lock()
		ws.hits[r.URL.Path] = append(ws.hits[r.URL.Path], time.Now())
		var f *wireFailure
		if q := ws.failures[r.URL.Path]; len(q) > 0 {
			f, ws.failures[r.URL.Path] = &q[0], q[1:]
		}
		ws.mu.Unlock()
		if f != nil {
			if f.retryAfter != "" {
				w.Header().Set("Retry-After", f.retryAfter)
			}
			writeError(w, f.status, f.code, f.desc)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (ws *wireServer) handleRoots(w http.ResponseWriter, _ *http.Request) {
	ws.mu.Lock()
	roots := ws.roots
	ws.mu.Unlock()
	w.Header().Set("Content-Type", "application/pem-certificate-chain")
	w.Write(certs.EncodeCertificates(roots...))
}

type wireRequest struct {
	Token string `json:"token"`
	CSR   string `json:"csr"`
}

func (ws *wireServer) handleEnroll(w http.ResponseWriter, r *http.Request) {
	req, ok := decodeWireRequest(w, r)
	if !ok {
		return
	}
	ws.mu.Lock()
	ws.tokens = append(ws.tokens, req.Token)
	ws.mu.Unlock()
	csr, err := certs.ParseCSR([]byte(req.CSR))
	if err != nil { // checked before the token is spent
		writeError(w, http.StatusBadRequest, "invalid_request", "bad CSR")
		return
	}
	ws.mu.Lock()
	g, ok := ws.grants[req.Token]
	if ok && !subset(csr.DNSNames, g.dns) {
		ws.mu.Unlock()
		writeError(w, http.StatusForbidden, "access_denied", "DNS name not allowed by the token")
		return
	}
	delete(ws.grants, req.Token)
	ws.mu.Unlock()
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeError(w, http.StatusUnauthorized, "invalid_token", "enrollment token is unknown, expired or already used")
		return
	}
	ws.issue(w, csr.PublicKey, g.clientID, csr.DNSNames)
}

func (ws *wireServer) handleRenew(w http.ResponseWriter, r *http.Request) {
	req, ok := decodeWireRequest(w, r)
	if !ok {
		return
	}
	peer := r.TLS.PeerCertificates
	if len(peer) == 0 {
		writeError(w, http.StatusUnauthorized, "unauthorized", "client certificate required")
		return
	}
	inter := x509.NewCertPool()
	for _, c := range peer[1:] {
		inter.AddCert(c)
	}
	if _, err := peer[0].Verify(x509.VerifyOptions{
		Roots: ws.ca.pool(), Intermediates: inter, CurrentTime: time.Now(),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}); err != nil {
		writeError(w, http.StatusUnauthorized, "unauthorized", "client certificate not valid")
		return
	}
	id, err := certs.IDFromCertificate(peer[0])
	if err != nil {
		writeError(w, http.StatusUnauthorized, "unauthorized", "no SPIFFE ID")
		return
	}
	csr, err := certs.ParseCSR([]byte(req.CSR))
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", "bad CSR")
		return
	}
	ws.issue(w, csr.PublicKey, id.ClientID, peer[0].DNSNames)
}

func (ws *wireServer) issue(w http.ResponseWriter, pub crypto.PublicKey, clientID string, dns []string) {
	ws.mu.Lock()
	life, back := ws.lifetime, ws.backdate
	ws.mu.Unlock()
	now := time.Now()
	leaf := ws.ca.issueLeaf(nopTB{}, pub, clientID, dns, now.Add(-back), now.Add(-back+life))
	id, _ := certs.IDFromCertificate(leaf)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(map[string]string{
		"certificate": string(certs.EncodeCertificates(leaf)),
		"chain":       string(certs.EncodeCertificates(leaf, ws.ca.inter)),
		"ca":          string(certs.EncodeCertificates(ws.ca.root)),
		"serial":      certs.SerialString(leaf.SerialNumber),
		"spiffe_id":   id.String(),
		"not_after":   leaf.NotAfter.UTC().Format(time.RFC3339),
	})
}

func decodeWireRequest(w http.ResponseWriter, r *http.Request) (wireRequest, bool) {
	var req wireRequest
	if r.Header.Get("Content-Type") != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "invalid_request", "JSON only")
		return req, false
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", "body must be JSON")
		return req, false
	}
	return req, true
}

func writeError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

func subset(names, allowed []string) bool {
	for _, n := range names {
		if !slices.Contains(allowed, n) {
			return false
		}
	}
	return true
}

// nopTB lets handlers use the testing.TB helpers; a failure there is a bug
// in the fixture and panics, which httptest reports.
type nopTB struct{ testing.TB }

func (nopTB) Helper()               {}
func (nopTB) Fatal(args ...any)     { panic(args) }
func (nopTB) Fatalf(string, ...any) { panic("fixture failure") }

// isTLSVerifyError reports whether err is a failed verification of the
// server's certificate chain.
func isTLSVerifyError(err error) bool {
	var verr *tls.CertificateVerificationError
	return errors.As(err, &verr)
}
