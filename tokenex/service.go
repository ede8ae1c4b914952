package tokenex

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/certbound/certbound/ca"
	"github.com/certbound/certbound/certs"
	"github.com/certbound/certbound/storage"
)

// Defaults and limits (SPEC §3).
const (
	DefaultTokenTTL = 3600 * time.Second
	MaxTokenTTL     = 86400 * time.Second
	// ClockSkew is what resource servers tolerate on exp (SPEC §3). A retired
	// key stays published this much longer than its last token lives.
	ClockSkew = 60 * time.Second
)

// Signing algorithms (RFC 7518 §3.1).
const (
	ES256 = "ES256" // ECDSA P-256, the default
	RS256 = "RS256" // RSA 3072, for verifiers that only know RS256 (RFC 9068 §2.1)
)

// Store is what tokenex needs from the database; storage.Store includes it.
type Store interface {
	CreateClient(ctx context.Context, c storage.Client) error
	GetClient(ctx context.Context, id string) (storage.Client, error)
	ListClients(ctx context.Context, after string, limit int) ([]storage.Client, error)
	// ModifyClient changes a client record in one write transaction, so
	// that concurrent changes are never lost; see storage.Store.ModifyClient.
	ModifyClient(ctx context.Context, id string, change func(*storage.Client) error) (storage.Client, error)
	DeleteClient(ctx context.Context, id string, now time.Time) error

	SigningKeys(ctx context.Context, now time.Time) ([]storage.SigningKey, error)
	RotateSigningKey(ctx context.Context, next storage.SigningKey, publishUntil time.Time) error

	// FingerprintRevoked reports whether a certificate certbound issued
	// with this hex SHA-256 of its DER has been revoked.
	FingerprintRevoked(ctx context.Context, fingerprint string) (bool, error)
}

// PeerVerifier turns the unverified certificates a TLS client presented into
// a verified client identity; *ca.Authority implements it. Errors that wrap a
// ca sentinel (ca.ErrUntrusted, ca.ErrRevoked, …) are verdicts on the
// certificate; any other error is a server fault.
type PeerVerifier interface {
	VerifyClient(ctx context.Context, chain []*x509.Certificate) (ca.Peer, error)
}

// LineageChecker is asked, at introspection, about the certificate a bound
// token names; *enroll.Service implements it (clone lineage). Usable false
// makes the token inactive; an error is a server fault.
type LineageChecker interface {
	BoundCertificateUsable(ctx context.Context, fingerprint string) (bool, error)
}

// Config configures New. Issuer and Store are required.
type Config struct {
	// Issuer is the authorization server's issuer identifier (RFC 8414 §2):
	// an https URL without query, fragment or trailing slash, for example
	// "https://localhost:8443". It is copied byte for byte into every
	// token's iss and the metadata's issuer, and the endpoint URLs are
	// Issuer + "/oauth2/token" and so on.
	Issuer string
	// Store holds clients, signing keys and certificate records. Required.
	Store Store
	// Peers verifies tls_client_auth certificates. Nil means no certificate
	// is ever trusted: tls_client_auth clients cannot authenticate (the
	// other methods still work).
	Peers PeerVerifier
	// TrustDomain is the SPIFFE trust domain of tls_client_auth_san_uri
	// values; it must be the one Peers verifies. Zero means
	// certs.DefaultTrustDomain. If Peers has a TrustDomain method, New checks
	// that they agree.
	TrustDomain string
	// DefaultTokenTTL is the access-token lifetime of clients that set none.
	// Zero means DefaultTokenTTL (3600 s).
	DefaultTokenTTL time.Duration
	// MaxTokenTTL caps every token's lifetime and any client's
	// AccessTokenTTL. Zero means MaxTokenTTL (86400 s).
	MaxTokenTTL time.Duration
	// SigningAlg is the algorithm of new signing keys: ES256 (P-256) or RS256
	// (RSA 3072). Zero means ES256. When the current stored key has another
	// algorithm, New rotates to a key of this one.
	SigningAlg string
	// Admit, when set, is asked by IssueToken after the client has
	// authenticated and before anything is signed; a non-nil error refuses
	// the request and is returned unchanged (the edge's per-client rate
	// limit, keyed on the AUTHENTICATED client so that nobody can use up
	// another client's allowance by sending its client_id). Nil admits all.
	Admit func(clientID string) error
	// KeyPassword, when set, encrypts the signing keys at rest (the server
	// passes the CA passphrase). Zero: stored as plain PKCS #8 in the
	// database, which is 0600 like the rest of the data dir.
	KeyPassword []byte
	// Lineage, when set, is asked at introspection whether the certificate
	// a bound token names may still be used (clone lineage, enroll). Nil:
	// only revocation counts.
	Lineage LineageChecker
	// ActivationDelay is how long after RotateKey the new key starts
	// signing; until then it is published in the JWKS only and the previous
	// key signs. Zero: at once (one process on the database). With replicas,
	// the time every replica takes to see a rotation (the server sets the
	// change feed's storage.MaxStaleness plus ClockSkew), so that no replica
	// signs with a key another does not publish yet.
	ActivationDelay time.Duration
	// Now returns the current time. Nil means time.Now. With replicas, a
	// clock they agree on: activation times are compared with it.
	Now func() time.Time
}

// Service is the authorization server core. Build it with New; it is safe
// for concurrent use.
type Service struct {
	issuer          string // validated, never empty
	store           Store  // never nil
	peers           PeerVerifier
	trustDomain     string
	defaultTTL      time.Duration // 0 < defaultTTL <= maxTTL
	maxTTL          time.Duration
	alg             string                      // ES256 or RS256
	now             func() time.Time            // never nil
	admit           func(clientID string) error // may be nil
	lineage         LineageChecker              // may be nil
	keyPassword     []byte                      // encrypts signing keys at rest; may be empty
	activationDelay time.Duration               // >= 0

	keys      atomic.Pointer[keySet] // never nil after New; replaced whole, never mutated
	reloadMu  sync.Mutex             // serialises Reload, so an older key set never replaces a newer one
	metadata  []byte                 // RFC 8414 document, built once
	dummyHash []byte                 // compared against for unknown clients
}

// New validates cfg, loads the signing keys from the store (creating the
// first one, or rotating when cfg.SigningAlg changed) and precomputes the
// JWKS and metadata documents.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if err := checkIssuer(cfg.Issuer); err != nil {
		return nil, err
	}
	if cfg.Store == nil {
		return nil, errors.New("tokenex: Config.Store is required")
	}
	s := &Service{
		issuer:          cfg.Issuer,
		store:           cfg.Store,
		peers:           cfg.Peers,
		trustDomain:     cmp.Or(cfg.TrustDomain, certs.DefaultTrustDomain),
		defaultTTL:      cmp.Or(cfg.DefaultTokenTTL, DefaultTokenTTL),
		maxTTL:          cmp.Or(cfg.MaxTokenTTL, MaxTokenTTL),
		alg:             cmp.Or(cfg.SigningAlg, ES256),
		now:             cfg.Now,
		admit:           cfg.Admit,
		lineage:         cfg.Lineage,
		keyPassword:     cfg.KeyPassword,
		activationDelay: cfg.ActivationDelay,
		dummyHash:       make([]byte, 32),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if !certs.ValidTrustDomain(s.trustDomain) {
		return nil, fmt.Errorf("tokenex: trust domain: %w", certs.ErrInvalidID)
	}
	if td, ok := cfg.Peers.(interface{ TrustDomain() string }); ok && td.TrustDomain() != s.trustDomain {
		return nil, fmt.Errorf("tokenex: Config.TrustDomain %q differs from the verifier's %q", s.trustDomain, td.TrustDomain())
	}
	if s.maxTTL < time.Second || s.defaultTTL < time.Second || s.defaultTTL > s.maxTTL {
		return nil, fmt.Errorf("tokenex: token lifetimes: default %v and max %v must be positive with default <= max", s.defaultTTL, s.maxTTL)
	}
	if cfg.ActivationDelay < 0 {
		return nil, fmt.Errorf("tokenex: activation delay %v is negative", cfg.ActivationDelay)
	}
	if s.alg != ES256 && s.alg != RS256 {
		return nil, fmt.Errorf("tokenex: signing algorithm %q: ES256 or RS256", s.alg)
	}
	_, _ = rand.Read(s.dummyHash)
	if err := s.initKeys(ctx); err != nil {
		return nil, err
	}
	md, err := buildMetadata(s.issuer)
	if err != nil {
		return nil, err
	}
	s.metadata = md
	return s, nil
}

// checkIssuer enforces RFC 8414 §2: https, no query or fragment. A trailing
// slash is refused too: "https://h/" and "https://h" are different issuers
// to every verifier (RFC 9068 §4 compares them byte for byte).
func checkIssuer(issuer string) error {
	if issuer == "" {
		return errors.New("tokenex: Config.Issuer is required")
	}
	u, err := url.Parse(issuer)
	switch {
	case err != nil:
		return fmt.Errorf("tokenex: issuer is not a URL: %w", err)
	case u.Scheme != "https" || u.Host == "" || u.Opaque != "" || u.User != nil:
		return fmt.Errorf("tokenex: issuer %q must be an https URL with a host", issuer)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(issuer, "#"):
		return fmt.Errorf("tokenex: issuer %q must have no query or fragment", issuer)
	case strings.HasSuffix(issuer, "/"):
		return fmt.Errorf("tokenex: issuer %q must not end with a slash", issuer)
	}
	return nil
}

// Issuer returns the issuer identifier, as in every token's iss.
func (s *Service) Issuer() string { return s.issuer }

// lookupClient is the one place the token and introspection paths read a
// client. A later cache goes here.
func (s *Service) lookupClient(ctx context.Context, id string) (storage.Client, error) {
	return s.store.GetClient(ctx, id)
}
