package verifyecho_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/certbound/certbound/certs"
	"github.com/certbound/certbound/tokenex/verify"
	"github.com/certbound/certbound/tokenex/verify/verifyecho"
	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"
)

// issuer is a minimal authorization server: one P-256 key, its JWKS served
// over TLS on 127.0.0.1, and a minting function.
type issuer struct {
	srv *httptest.Server
	key *ecdsa.PrivateKey
}

const kid = "test-key"

func newIssuer(t *testing.T) *issuer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwk := map[string]string{
		"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
		"x": base64.RawURLEncoding.EncodeToString(key.X.FillBytes(make([]byte, 32))),
		"y": base64.RawURLEncoding.EncodeToString(key.Y.FillBytes(make([]byte, 32))),
	}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []any{jwk}})
	}))
	t.Cleanup(srv.Close)
	return &issuer{srv: srv, key: key}
}

func (is *issuer) verifier(t *testing.T) *verify.Verifier {
	t.Helper()
	v, err := verify.New(t.Context(), verify.Config{
		Issuer:     is.srv.URL,
		Audience:   "event",
		JWKSURL:    is.srv.URL + "/jwks",
		HTTPClient: is.srv.Client(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// mint returns a token as certbound issues it, bound to peer.
func (is *issuer) mint(t *testing.T, peer *x509.Certificate) string {
	t.Helper()
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"iss": is.srv.URL, "sub": "svc-a", "client_id": "svc-a", "aud": "event",
		"scope": "event.read", "scp": []string{"event.read"},
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": rand.Text(),
		"cnf": map[string]string{"x5t#S256": certs.X5tS256(peer.Raw)}, "stt": 1,
	})
	tok.Header["typ"], tok.Header["kid"] = "at+jwt", kid
	s, err := tok.SignedString(is.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newClientCert(t *testing.T, cn string) tls.Certificate {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, priv.Public(), priv)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv, Leaf: leaf}
}

// mtlsServer serves h over TLS on 127.0.0.1, requesting client certificates.
func mtlsServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{MinVersion: tls.VersionTLS12, ClientAuth: tls.RequestClientCert}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// reply is everything a caller sees of a response.
type reply struct {
	Status    int
	Challenge string
	Body      string
}

func get(t *testing.T, srv *httptest.Server, path string, cert *tls.Certificate, auth string) reply {
	t.Helper()
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.TLSClientConfig.Certificates = nil
	if cert != nil {
		tr.TLSClientConfig.Certificates = []tls.Certificate{*cert}
	}
	c := &http.Client{Transport: tr}
	defer c.CloseIdleConnections()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{resp.StatusCode, resp.Header.Get("WWW-Authenticate"), string(body)}
}

// TestRequireScopes runs the same requests against an echo server and a
// net/http server guarded by the same verifier: every reply must be the
// same, and the expected one.
func TestRequireScopes(t *testing.T) {
	is := newIssuer(t)
	v := is.verifier(t)
	certA, certB := newClientCert(t, "svc-a"), newClientCert(t, "svc-b")
	tokA := is.mint(t, certA.Leaf)

	e := echo.New()
	e.GET("/read", func(c echo.Context) error {
		claims, ok := verifyecho.Claims(c)
		if !ok {
			return c.String(http.StatusInternalServerError, "no claims")
		}
		return c.String(http.StatusOK, "hello "+claims.ClientID)
	}, verifyecho.RequireScopes(v, "event.read"))
	e.GET("/write", echo.WrapHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := verify.ClaimsFromContext(r.Context())
		_, _ = io.WriteString(w, "hello "+c.ClientID)
	})), verifyecho.RequireScopes(v, "event.write"))
	echoSrv := mtlsServer(t, e)

	hello := func(w http.ResponseWriter, r *http.Request) {
		c, ok := verify.ClaimsFromContext(r.Context())
		if !ok {
			http.Error(w, "no claims", http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "hello "+c.ClientID)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /read", verify.RequireScopes(v, "event.read")(http.HandlerFunc(hello)))
	mux.Handle("GET /write", verify.RequireScopes(v, "event.write")(http.HandlerFunc(hello)))
	httpSrv := mtlsServer(t, mux)

	tests := []struct {
		name          string
		path          string
		cert          *tls.Certificate
		auth          string
		wantStatus    int
		wantChallenge string
	}{
		{"accept/bound-token-matching-cert", "/read", &certA, "Bearer " + tokA, 200, ""},
		{"reject/replay-from-other-cert", "/read", &certB, "Bearer " + tokA, 401,
			`Bearer realm="certbound", error="invalid_token", error_description="the client certificate does not match the access token"`},
		{"reject/replay-without-cert", "/read", nil, "Bearer " + tokA, 401,
			`Bearer realm="certbound", error="invalid_token", error_description="the access token is bound to a client certificate but none was presented"`},
		{"reject/no-token", "/read", &certA, "", 401, `Bearer realm="certbound"`},
		{"reject/missing-scope", "/write", &certA, "Bearer " + tokA, 403,
			`Bearer realm="certbound", error="insufficient_scope", error_description="the access token lacks a required scope", scope="event.write"`},
		{"reject/malformed-request", "/read?access_token=x", &certA, "Bearer " + tokA, 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := get(t, echoSrv, tt.path, tt.cert, tt.auth)
			want := get(t, httpSrv, tt.path, tt.cert, tt.auth)
			if got != want {
				t.Errorf("echo replied %+v\nnet/http replied %+v", got, want)
			}
			if got.Status != tt.wantStatus {
				t.Fatalf("status = %d, want %d (%s)", got.Status, tt.wantStatus, got.Body)
			}
			if tt.wantStatus == 200 {
				if got.Body != "hello svc-a" {
					t.Errorf("body = %q, want hello svc-a", got.Body)
				}
				return
			}
			if tt.wantChallenge != "" && got.Challenge != tt.wantChallenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got.Challenge, tt.wantChallenge)
			}
			var body struct {
				Error string `json:"error"`
			}
			if err := json.Unmarshal([]byte(got.Body), &body); err != nil || body.Error == "" {
				t.Errorf("body %q is not a JSON error (%v)", got.Body, err)
			}
		})
	}
}

func TestClaimsWithoutMiddleware(t *testing.T) {
	e := echo.New()
	c := e.NewContext(httptest.NewRequest(http.MethodGet, "/", nil), httptest.NewRecorder())
	if claims, ok := verifyecho.Claims(c); ok || claims != nil {
		t.Fatalf("Claims() = %v, %v; want nil, false", claims, ok)
	}
}
