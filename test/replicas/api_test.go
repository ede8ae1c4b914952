package replicas

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/certbound/certbound/certs"
)

// The clients the tests register: one scope, one audience.
const (
	testScope    = "replica.read"
	testAudience = "replica-api"
)

// identity is a key and the certificate a replica issued for it.
type identity struct {
	clientID string
	key      *ecdsa.PrivateKey
	csr      []byte // PEM, for the key
	cert     tls.Certificate
	leaf     *x509.Certificate
	serial   string
}

// newKey makes a P-256 key and a CSR for it with CN = clientID; the server
// takes the public key from a CSR and nothing else.
func newKey(clientID string) (*identity, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: clientID}}, k)
	if err != nil {
		return nil, err
	}
	return &identity{clientID: clientID, key: k, csr: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})}, nil
}

// issued is the body of a 201 from /v1/enroll or /v1/renew (SPEC §7).
type issued struct {
	Certificate string `json:"certificate"`
	Chain       string `json:"chain"`
	CA          string `json:"ca"`
	Serial      string `json:"serial"`
	SPIFFEID    string `json:"spiffe_id"`
	NotAfter    string `json:"not_after"`
}

// withChain completes id with the chain of a 201 and checks that the serial
// the body names is the leaf's.
func (id *identity) withChain(body issued) error {
	for rest := []byte(body.Chain); ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		id.cert.Certificate = append(id.cert.Certificate, b.Bytes)
	}
	if len(id.cert.Certificate) == 0 {
		return fmt.Errorf("201 without a chain")
	}
	leaf, err := x509.ParseCertificate(id.cert.Certificate[0])
	if err != nil {
		return err
	}
	if got := certs.SerialString(leaf.SerialNumber); got != body.Serial {
		return fmt.Errorf("201 names serial %s, the leaf has %s", body.Serial, got)
	}
	id.cert.PrivateKey, id.cert.Leaf, id.leaf, id.serial = id.key, leaf, leaf, body.Serial
	return nil
}

// apiError is a non-2xx answer: its status and SPEC §5 error code.
type apiError struct {
	Status int
	Code   string `json:"error"`
	Text   string `json:"error_description"`
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Text) }

// status is the HTTP status of err: an *apiError's, 0 for a transport
// error (no answer at all), 200 for nil.
func status(err error) int {
	if err == nil {
		return http.StatusOK
	}
	if e, ok := err.(*apiError); ok {
		return e.Status
	}
	return 0
}

// httpClient is a client that trusts the cluster's root and, if id is not
// nil, presents id's certificate. keepAlive=false makes every request a new
// TLS connection (a handshake per request, as many distinct callers would).
func (c *cluster) httpClient(id *identity, keepAlive bool) *http.Client {
	tc := &tls.Config{RootCAs: c.roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	if id != nil {
		cert := id.cert
		tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
	}
	tr := &http.Transport{TLSClientConfig: tc, DisableKeepAlives: !keepAlive, MaxIdleConnsPerHost: 8,
		TLSHandshakeTimeout: 10 * time.Second}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// call sends one request and decodes a 2xx JSON answer into out. A non-2xx
// answer is an *apiError; no answer is the transport's error.
func call(ctx context.Context, hc *http.Client, req *http.Request, out any) error {
	resp, err := hc.Do(req.WithContext(ctx))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		e := &apiError{Status: resp.StatusCode}
		_ = json.Unmarshal(b, e)
		return e
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: %w in %q", req.Method, req.URL.Path, err, b)
		}
	}
	return nil
}

func jsonRequest(method, u string, in any) *http.Request {
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, u, body)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

// admin calls the admin API of r with the bootstrap admin key.
func (c *cluster) admin(ctx context.Context, r *replica, method, path string, in, out any) error {
	req := jsonRequest(method, r.url+path, in)
	req.Header.Set("Authorization", "Bearer "+c.adminKey)
	hc := c.httpClient(nil, false)
	defer hc.CloseIdleConnections()
	return call(ctx, hc, req, out)
}

// createClient registers a tls_client_auth client with testScope and
// testAudience through r.
func (c *cluster) createClient(ctx context.Context, r *replica, id string) {
	c.t.Helper()
	in := map[string]any{"client_id": id, "client_name": id, "scope": testScope, "audience": []string{testAudience}}
	if err := c.admin(ctx, r, "POST", "/v1/clients", in, nil); err != nil {
		c.t.Fatalf("create client %s on %s: %v", id, r.name, err)
	}
}

// mintToken creates a one-time enrollment token for clientID through r.
func (c *cluster) mintToken(ctx context.Context, r *replica, clientID string) (string, error) {
	var out struct {
		Token string `json:"token"`
	}
	err := c.admin(ctx, r, "POST", "/v1/clients/"+clientID+"/enrollment-tokens", map[string]string{"ttl": "1h"}, &out)
	return out.Token, err
}

func (c *cluster) mustMintToken(ctx context.Context, r *replica, clientID string) string {
	c.t.Helper()
	tok, err := c.mintToken(ctx, r, clientID)
	if err != nil {
		c.t.Fatalf("mint an enrollment token for %s on %s: %v", clientID, r.name, err)
	}
	return tok
}

// enroll redeems token on r with a CSR for id's key, through hc.
func (c *cluster) enroll(ctx context.Context, hc *http.Client, r *replica, token string, id *identity) (*identity, error) {
	var out issued
	if err := call(ctx, hc, jsonRequest("POST", r.url+"/v1/enroll", map[string]string{"token": token, "csr": string(id.csr)}), &out); err != nil {
		return nil, err
	}
	got := *id
	got.cert = tls.Certificate{}
	return &got, got.withChain(out)
}

// enrollNew makes a key for clientID and enrolls it on r with token.
func (c *cluster) enrollNew(ctx context.Context, r *replica, token, clientID string) (*identity, error) {
	id, err := newKey(clientID)
	if err != nil {
		return nil, err
	}
	hc := c.httpClient(nil, false)
	defer hc.CloseIdleConnections()
	return c.enroll(ctx, hc, r, token, id)
}

// renew renews cur on r over mutual TLS with a new key.
func (c *cluster) renew(ctx context.Context, r *replica, cur *identity) (*identity, error) {
	next, err := newKey(cur.clientID)
	if err != nil {
		return nil, err
	}
	hc := c.httpClient(cur, false)
	defer hc.CloseIdleConnections()
	var out issued
	if err := call(ctx, hc, jsonRequest("POST", r.url+"/v1/renew", map[string]string{"csr": string(next.csr)}), &out); err != nil {
		return nil, err
	}
	return next, next.withChain(out)
}

// token asks r for an access token for id's client, authenticated by id's
// certificate (tls_client_auth), through hc (which must present it).
func (c *cluster) token(ctx context.Context, hc *http.Client, r *replica, id *identity) (string, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id.clientID}}
	req, _ := http.NewRequest("POST", r.url+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var out struct {
		AccessToken string `json:"access_token"`
	}
	err := call(ctx, hc, req, &out)
	return out.AccessToken, err
}

// tokenOnce is token over a connection of its own.
func (c *cluster) tokenOnce(ctx context.Context, r *replica, id *identity) (string, error) {
	hc := c.httpClient(id, false)
	defer hc.CloseIdleConnections()
	return c.token(ctx, hc, r, id)
}

// introspect asks r, as the admin, whether tok is active (RFC 7662).
func (c *cluster) introspect(ctx context.Context, r *replica, tok string) (bool, error) {
	req, _ := http.NewRequest("POST", r.url+"/oauth2/introspect", strings.NewReader(url.Values{"token": {tok}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+c.adminKey)
	hc := c.httpClient(nil, false)
	defer hc.CloseIdleConnections()
	var out struct {
		Active bool `json:"active"`
	}
	err := call(ctx, hc, req, &out)
	return out.Active, err
}

// revoke revokes serial through r.
func (c *cluster) revoke(ctx context.Context, r *replica, serial string) {
	c.t.Helper()
	if err := c.admin(ctx, r, "POST", "/v1/certificates/"+serial+"/revoke", map[string]string{"reason": "keyCompromise"}, nil); err != nil {
		c.t.Fatalf("revoke %s on %s: %v", serial, r.name, err)
	}
}

// disable disables clientID through r.
func (c *cluster) disable(ctx context.Context, r *replica, clientID string) {
	c.t.Helper()
	if err := c.admin(ctx, r, "PATCH", "/v1/clients/"+clientID, map[string]any{"disabled": true}, nil); err != nil {
		c.t.Fatalf("disable %s on %s: %v", clientID, r.name, err)
	}
}

// rotate starts a new token-signing key through r and returns its kid.
func (c *cluster) rotate(ctx context.Context, r *replica) string {
	c.t.Helper()
	var out struct {
		KID string `json:"kid"`
	}
	if err := c.admin(ctx, r, "POST", "/v1/keys/rotate", nil, &out); err != nil || out.KID == "" {
		c.t.Fatalf("rotate the signing key on %s: %v (kid %q)", r.name, err, out.KID)
	}
	return out.KID
}

// jwksKids lists the kids r publishes, through hc.
func (c *cluster) jwksKids(ctx context.Context, hc *http.Client, r *replica) (map[string]bool, error) {
	var out struct {
		Keys []struct {
			KID string `json:"kid"`
		} `json:"keys"`
	}
	req, _ := http.NewRequest("GET", r.url+"/.well-known/jwks.json", nil)
	if err := call(ctx, hc, req, &out); err != nil {
		return nil, err
	}
	kids := map[string]bool{}
	for _, k := range out.Keys {
		kids[k.KID] = true
	}
	return kids, nil
}

// kidOf reads the kid from a JWT's header without verifying anything: the
// rotation test asks only which key a replica chose.
func kidOf(jwt string) string {
	h, _, _ := strings.Cut(jwt, ".")
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return ""
	}
	var hdr struct {
		KID string `json:"kid"`
	}
	_ = json.Unmarshal(b, &hdr)
	return hdr.KID
}

// readyStatus is the status of GET /v1/ready on r (0: no answer).
func (c *cluster) readyStatus(ctx context.Context, r *replica) int {
	hc := c.httpClient(nil, false)
	defer hc.CloseIdleConnections()
	req, _ := http.NewRequest("GET", r.url+"/v1/ready", nil)
	return status(call(ctx, hc, req, nil))
}
