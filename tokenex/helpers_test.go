package tokenex_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.step.sm/crypto/jose"

	"github.com/certbound/certbound/ca/catest"
	"github.com/certbound/certbound/certs/secret"
	"github.com/certbound/certbound/storage/sqlite"
	"github.com/certbound/certbound/storage/sqlite/sqlitetest"
	"github.com/certbound/certbound/tokenex"
)

const issuer = "https://certbound.test:8443"

// clock is a settable test clock, safe for concurrent use.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Now().Truncate(time.Second).UnixNano())
	return c
}

func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }
func (c *clock) Set(t time.Time)         { c.ns.Store(t.UnixNano()) }

// fixture is a Service on a real SQLite database and a real CA.
type fixture struct {
	svc   *tokenex.Service
	db    *sqlite.DB
	ca    *catest.CA
	clock *clock
	cfg   tokenex.Config
}

type option func(*tokenex.Config)

func newFixture(t testing.TB, opts ...option) *fixture {
	t.Helper()
	clk := newClock()
	authority := catest.New(t, catest.WithNow(clk.Now))
	db := sqlitetest.Open(t)
	cfg := tokenex.Config{Issuer: issuer, Store: db, Peers: authority.Authority, Now: clk.Now}
	for _, o := range opts {
		o(&cfg)
	}
	svc, err := tokenex.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("tokenex.New: %v", err)
	}
	return &fixture{svc: svc, db: db, ca: authority, clock: clk, cfg: cfg}
}

// register registers spec and fails the test on error.
func (f *fixture) register(t testing.TB, spec tokenex.ClientSpec) (tokenex.Client, secret.Secret) {
	t.Helper()
	c, sec, err := f.svc.RegisterClient(context.Background(), spec)
	if err != nil {
		t.Fatalf("RegisterClient(%s): %v", spec.ClientID, err)
	}
	return c, sec
}

// claims is what an independent verifier reads from a token.
type claims struct {
	jwt.RegisteredClaims
	ClientID string            `json:"client_id"`
	Scope    string            `json:"scope"`
	Scp      []string          `json:"scp"`
	Stt      *int              `json:"stt"`
	Cnf      map[string]string `json:"cnf"`
}

// verifyJWT verifies tok independently of tokenex: golang-jwt with the keys
// of the published JWKS (parsed by go-jose), alg pinned to the key, typ,
// iss, aud and exp checked against now.
func verifyJWT(t testing.TB, jwksDoc []byte, tok string, aud string, now time.Time) (*claims, error) {
	t.Helper()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(jwksDoc, &set); err != nil {
		t.Fatalf("JWKS does not parse: %v", err)
	}
	c := new(claims)
	_, err := jwt.ParseWithClaims(tok, c, func(tk *jwt.Token) (any, error) {
		if tk.Header["typ"] != "at+jwt" {
			return nil, errors.New("typ is not at+jwt")
		}
		kid, _ := tk.Header["kid"].(string)
		keys := set.Key(kid)
		if len(keys) != 1 {
			return nil, fmt.Errorf("kid %q: %d keys in the JWKS", kid, len(keys))
		}
		var want string
		switch keys[0].Key.(type) {
		case *ecdsa.PublicKey:
			want = "ES256"
		case *rsa.PublicKey:
			want = "RS256"
		}
		if tk.Method.Alg() != want || keys[0].Algorithm != want {
			return nil, fmt.Errorf("alg %s for a %s key", tk.Method.Alg(), want)
		}
		return keys[0].Key.(crypto.PublicKey), nil
	}, jwt.WithValidMethods([]string{"ES256", "RS256"}), jwt.WithIssuer(issuer), jwt.WithAudience(aud),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithTimeFunc(func() time.Time { return now }))
	return c, err
}

// chain parses a catest certificate as a TLS server would see it.
func chainOf(t testing.TB, der ...[]byte) []*x509.Certificate {
	t.Helper()
	out := make([]*x509.Certificate, len(der))
	for i, d := range der {
		c, err := x509.ParseCertificate(d)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = c
	}
	return out
}

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
