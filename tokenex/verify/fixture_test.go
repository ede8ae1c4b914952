package verify_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/certbound/certbound/certs"
	"github.com/certbound/certbound/tokenex/verify"
	"github.com/golang-jwt/jwt/v5"
)

// t0 is the fixed start of every test clock.
var t0 = time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)

// clock is an injectable time source that tests move by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: t0} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// signingKey is one of the test authorization server's keys.
type signingKey struct {
	kid    string
	method jwt.SigningMethod
	priv   crypto.Signer
	jwk    map[string]string
}

func newECKey(t testing.TB) *signingKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	x := base64.RawURLEncoding.EncodeToString(priv.X.FillBytes(make([]byte, 32)))
	y := base64.RawURLEncoding.EncodeToString(priv.Y.FillBytes(make([]byte, 32)))
	// RFC 7638 thumbprint: the required members, sorted, no whitespace.
	kid := thumbprint(`{"crv":"P-256","kty":"EC","x":"` + x + `","y":"` + y + `"}`)
	return &signingKey{kid: kid, method: jwt.SigningMethodES256, priv: priv,
		jwk: map[string]string{"kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": kid, "use": "sig", "alg": "ES256"}}
}

func newRSAKey(t testing.TB) *signingKey {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	n := base64.RawURLEncoding.EncodeToString(priv.N.Bytes())
	e := base64.RawURLEncoding.EncodeToString(big.NewInt(int64(priv.E)).Bytes())
	kid := thumbprint(`{"e":"` + e + `","kty":"RSA","n":"` + n + `"}`)
	return &signingKey{kid: kid, method: jwt.SigningMethodRS256, priv: priv,
		jwk: map[string]string{"kty": "RSA", "n": n, "e": e, "kid": kid, "use": "sig", "alg": "RS256"}}
}

func thumbprint(canonical string) string {
	sum := sha256.Sum256([]byte(canonical))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// authServer is a tiny authorization server over real TLS on 127.0.0.1: RFC
// 8414 metadata and a JWKS of keys the test controls.
type authServer struct {
	srv *httptest.Server

	jwksFetches     atomic.Int32
	metadataFetches atomic.Int32

	mu        sync.Mutex
	published []*signingKey // guarded by mu
	signer    *signingKey   // guarded by mu
	issuer    string        // metadata "issuer"; guarded by mu
}

func newAuthServer(t testing.TB, first *signingKey) *authServer {
	t.Helper()
	as := &authServer{published: []*signingKey{first}, signer: first}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		as.metadataFetches.Add(1)
		as.mu.Lock()
		md := map[string]any{"issuer": as.issuer, "jwks_uri": as.srv.URL + "/.well-known/jwks.json"}
		as.mu.Unlock()
		writeJSON(w, md)
	})
	mux.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, r *http.Request) {
		as.jwksFetches.Add(1)
		as.mu.Lock()
		keys := make([]map[string]string, 0, len(as.published))
		for _, k := range as.published {
			keys = append(keys, k.jwk)
		}
		as.mu.Unlock()
		writeJSON(w, map[string]any{"keys": keys})
	})
	as.srv = httptest.NewUnstartedServer(mux)
	as.srv.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	as.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // TestNew makes a handshake fail on purpose
	as.srv.StartTLS()
	t.Cleanup(as.srv.Close)
	as.issuer = as.srv.URL
	return as
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (as *authServer) URL() string { return as.srv.URL }

// publish adds k to the JWKS.
func (as *authServer) publish(k *signingKey) {
	as.mu.Lock()
	defer as.mu.Unlock()
	as.published = append(as.published, k)
}

// retire removes k from the JWKS.
func (as *authServer) retire(k *signingKey) {
	as.mu.Lock()
	defer as.mu.Unlock()
	as.published = slices.DeleteFunc(as.published, func(p *signingKey) bool { return p == k })
}

// signWith makes k the key new tokens are signed with.
func (as *authServer) signWith(k *signingKey) {
	as.mu.Lock()
	defer as.mu.Unlock()
	as.signer = k
}

func (as *authServer) setMetadataIssuer(iss string) {
	as.mu.Lock()
	defer as.mu.Unlock()
	as.issuer = iss
}

// token is a token under construction: header and claims as certbound issues
// them, for a tweak to break one rule.
type token struct {
	header map[string]any
	claims map[string]any
}

// newToken returns the claims certbound would issue to svc-a at now, bound to
// peer (unbound when peer is nil).
func (as *authServer) newToken(now time.Time, peer *x509.Certificate) *token {
	as.mu.Lock()
	k := as.signer
	as.mu.Unlock()
	tok := &token{
		header: map[string]any{"alg": k.method.Alg(), "typ": "at+jwt", "kid": k.kid},
		claims: map[string]any{
			"iss":       as.srv.URL,
			"sub":       "svc-a",
			"client_id": "svc-a",
			"aud":       "event",
			"scope":     "event.create event.read",
			"scp":       []string{"event.create", "event.read"},
			"iat":       now.Add(-10 * time.Second).Unix(),
			"nbf":       now.Add(-10 * time.Second).Unix(),
			"exp":       now.Add(time.Hour).Unix(),
			"jti":       rand.Text(),
			"stt":       1,
		},
	}
	if peer != nil {
		tok.claims["cnf"] = map[string]any{"x5t#S256": certs.X5tS256(peer.Raw)}
	}
	return tok
}

// sign signs tok with the authorization server's current key.
func (as *authServer) sign(t testing.TB, tok *token) string {
	t.Helper()
	as.mu.Lock()
	k := as.signer
	as.mu.Unlock()
	return signWith(t, tok, k.method, k.priv)
}

func signWith(t testing.TB, tok *token, m jwt.SigningMethod, key any) string {
	t.Helper()
	jt := jwt.NewWithClaims(m, jwt.MapClaims(tok.claims))
	jt.Header = tok.header
	s, err := jt.SignedString(key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return s
}

// mint returns a token certbound would issue at now, bound to peer.
func (as *authServer) mint(t testing.TB, now time.Time, peer *x509.Certificate) string {
	t.Helper()
	return as.sign(t, as.newToken(now, peer))
}

// clientCert is a self-signed client certificate. RFC 8705 §6.2: a resource
// server does not validate the chain, so no CA is needed here.
type clientCert struct {
	tls  tls.Certificate
	leaf *x509.Certificate
}

func newClientCert(t testing.TB, cn string) clientCert {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, priv.Public(), priv)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return clientCert{tls: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv, Leaf: leaf}, leaf: leaf}
}

// newVerifier returns a verifier for as with the audience "event" and the
// clock c, after edit changes its config.
func newVerifier(t testing.TB, as *authServer, c *clock, edit func(*verify.Config)) *verify.Verifier {
	t.Helper()
	cfg := verify.Config{
		Issuer:     as.URL(),
		Audience:   "event",
		HTTPClient: as.srv.Client(),
		Now:        c.Now,
	}
	if edit != nil {
		edit(&cfg)
	}
	v, err := verify.New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("verify.New: %v", err)
	}
	return v
}

// segment replaces part i (0 header, 1 payload, 2 signature) of a compact
// JWS with the base64url of data.
func segment(raw string, i int, data []byte) string {
	parts := strings.Split(raw, ".")
	parts[i] = base64.RawURLEncoding.EncodeToString(data)
	return strings.Join(parts, ".")
}
