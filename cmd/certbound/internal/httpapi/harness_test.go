package httpapi_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/certbound/certbound/ca"
	"github.com/certbound/certbound/ca/catest"
	"github.com/certbound/certbound/certs"
	"github.com/certbound/certbound/certs/secret"
	"github.com/certbound/certbound/cmd/certbound/internal/httpapi"
	"github.com/certbound/certbound/enroll"
	"github.com/certbound/certbound/storage"
	"github.com/certbound/certbound/storage/sqlite/sqlitetest"
	"github.com/certbound/certbound/tokenex"
)

// harness is the real echo handler over real services: a real CA whose
// status source is a real SQLite database, driven in-process with
// httptest.ResponseRecorder. No network, so fuzzing runs thousands of
// requests a second.
type harness struct {
	api       *httpapi.API
	db        storage.Store
	authority *ca.Authority
	enroll    *enroll.Service
	tokens    *tokenex.Service
	adminKey  string
	log       *syncBuffer

	// Registered clients: "svc" (tls_client_auth, scopes "a b", audience
	// "aud"), "sec" (client_secret_basic), "post" (client_secret_post).
	secretBasic, secretPost string
	// chain is an enrolled certificate of "svc" and the intermediate, as a
	// TLS server would hand them over.
	chain []*x509.Certificate
	// accessToken is a token issued to "svc", bound to chain[0].
	accessToken string
	csrPEM      string // a valid CSR for a fresh key, no names
}

const harnessIssuer = "https://certbound.test"

func newHarness(t testing.TB) *harness {
	t.Helper()
	ctx := context.Background()
	h := &harness{db: sqlitetest.Open(t), log: &syncBuffer{}}
	c := catest.New(t)
	var err error
	h.authority, err = ca.New(ca.Config{Dir: c.Dir, TrustDomain: catest.TrustDomain, Status: h.db})
	if err != nil {
		t.Fatal(err)
	}
	h.enroll, err = enroll.New(enroll.Config{Store: h.db, CA: h.authority, OnClone: enroll.CloneRefuse})
	if err != nil {
		t.Fatal(err)
	}
	h.tokens, err = tokenex.New(ctx, tokenex.Config{Issuer: harnessIssuer, Store: h.db, Peers: h.authority, TrustDomain: catest.TrustDomain})
	if err != nil {
		t.Fatal(err)
	}
	key := secret.New("cba_")
	h.adminKey = key.Reveal()
	h.api = httpapi.New(httpapi.Config{CA: h.authority, Enroll: h.enroll, Tokens: h.tokens, Admin: adminKey{key.Hash()},
		Audit: h.db, Logger: slog.New(slog.NewTextHandler(h.log, &slog.HandlerOptions{Level: slog.LevelDebug}))})

	if _, _, err := h.tokens.RegisterClient(ctx, tokenex.ClientSpec{ClientID: "svc", Scope: "a b", Audience: []string{"aud", "https://rs.example/"}}); err != nil {
		t.Fatal(err)
	}
	for id, dst := range map[string]*string{tokenex.MethodClientSecretBasic: &h.secretBasic, tokenex.MethodClientSecretPost: &h.secretPost} {
		name := map[string]string{tokenex.MethodClientSecretBasic: "sec", tokenex.MethodClientSecretPost: "post"}[id]
		_, sec, err := h.tokens.RegisterClient(ctx, tokenex.ClientSpec{ClientID: name, Scope: "a", Audience: []string{"aud"}, TokenEndpointAuthMethod: id})
		if err != nil {
			t.Fatal(err)
		}
		*dst = sec.Reveal()
	}
	h.csrPEM = newCSR(t)
	h.chain = h.enrolled(t)
	tok, err := h.tokens.IssueToken(ctx, tokenex.TokenRequest{GrantType: "client_credentials",
		ClientAuth: tokenex.ClientAuth{ClientID: "svc", PeerChain: h.chain}})
	if err != nil {
		t.Fatal(err)
	}
	h.accessToken = tok.AccessToken.Reveal()
	return h
}

// enrolled mints a token for "svc", redeems it and returns the chain.
func (h *harness) enrolled(t testing.TB) []*x509.Certificate {
	t.Helper()
	ctx := context.Background()
	tok, err := h.enroll.MintToken(ctx, enroll.TokenRequest{ClientID: "svc", DNSNames: []string{"svc.internal"}})
	if err != nil {
		t.Fatal(err)
	}
	is, err := h.enroll.Enroll(ctx, tok.Token, []byte(h.csrPEM))
	if err != nil {
		t.Fatal(err)
	}
	return []*x509.Certificate{is.Leaf, h.authority.Intermediate()}
}

// freshToken mints an unused enrollment token for "svc".
func (h *harness) freshToken(t testing.TB) string {
	t.Helper()
	tok, err := h.enroll.MintToken(context.Background(), enroll.TokenRequest{ClientID: "svc", DNSNames: []string{"svc.internal"}})
	if err != nil {
		t.Fatal(err)
	}
	return tok.Token.Reveal()
}

// request is one in-process request.
type request struct {
	method, path string
	body         []byte
	headers      []string // "Name: value"
	chain        []*x509.Certificate
}

// do serves r and checks the invariants every response must keep: never a
// 5xx, and every 4xx is SPEC §5 JSON with error and error_description (plus
// a challenge on 401 and Retry-After on 429). A panic fails the test too: it
// becomes a 500 in recoverPanic.
func (h *harness) do(t testing.TB, r request) *httptest.ResponseRecorder {
	t.Helper()
	req, err := http.NewRequest(r.method, "https://certbound.test"+r.path, bytes.NewReader(r.body))
	if err != nil {
		return nil // net/http would never hand the server this request
	}
	req.RemoteAddr = "192.0.2.1:40000"
	for _, hd := range r.headers {
		k, v, _ := strings.Cut(hd, ":")
		req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	if r.chain != nil {
		req.TLS = &tls.ConnectionState{Version: tls.VersionTLS13, HandshakeComplete: true, PeerCertificates: r.chain}
	} else {
		req.TLS = &tls.ConnectionState{Version: tls.VersionTLS13, HandshakeComplete: true}
	}
	rec := httptest.NewRecorder()
	h.api.ServeHTTP(rec, req)
	if err := checkResponse(rec); err != nil {
		t.Fatalf("%s %.80q: %v\nbody: %.300q\nlog tail: %s", r.method, r.path, err, r.body, h.log.tail(2000))
	}
	return rec
}

func checkResponse(rec *httptest.ResponseRecorder) error {
	if rec.Code >= 500 {
		return fmt.Errorf("status %d: %s", rec.Code, rec.Body.Bytes())
	}
	if rec.Code < 400 {
		return nil
	}
	if mt, _, _ := mime.ParseMediaType(rec.Header().Get("Content-Type")); mt != "application/json" {
		return fmt.Errorf("%d with Content-Type %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" || e.Description == "" {
		return fmt.Errorf("%d without error and error_description: %s (%v)", rec.Code, rec.Body.Bytes(), err)
	}
	if rec.Code == 401 && rec.Header().Get("WWW-Authenticate") == "" {
		return fmt.Errorf("401 without WWW-Authenticate")
	}
	if rec.Code == 429 && rec.Header().Get("Retry-After") == "" {
		return fmt.Errorf("429 without Retry-After")
	}
	return nil
}

// adminKey is an httpapi.AdminAuthenticator for one key.
type adminKey struct{ hash []byte }

func (k adminKey) AdminKey(s secret.Secret) (string, bool) {
	return "test", !s.IsZero() && subtle.ConstantTimeCompare(s.Hash(), k.hash) == 1
}

func newCSR(t testing.TB, dnsNames ...string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "svc"}, DNSNames: dnsNames}, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(certs.EncodeCSR(der))
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// syncBuffer collects the log for failure messages.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > 1<<20 {
		b.buf.Reset() // keep the tail only; fuzzing logs a lot
	}
	return b.buf.Write(p)
}

func (b *syncBuffer) tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return s
}

var _ io.Writer = (*syncBuffer)(nil)
