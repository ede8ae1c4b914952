package enroll

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/certbound/certbound/ca"
	"github.com/certbound/certbound/certs"
	"github.com/certbound/certbound/certs/secret"
	"github.com/certbound/certbound/storage"
)

// Defaults and limits of SPEC §3.
const (
	DefaultCertLifetime  = 24 * time.Hour
	MaxCertLifetime      = 168 * time.Hour
	DefaultTokenLifetime = 15 * time.Minute
	MaxTokenLifetime     = 24 * time.Hour
)

// maxTokenDNSNames is the most DNS names a token may allow, the ca profile's
// limit for one certificate.
const maxTokenDNSNames = 100

// tokenPrefix marks certbound enrollment tokens so a leaked one is recognisable.
const tokenPrefix = "cbe_"

// Store is what enrollment needs from the database. storage.Store includes it.
type Store interface {
	GetClient(ctx context.Context, id string) (storage.Client, error)
	InsertEnrollToken(ctx context.Context, t storage.EnrollToken) error
	RedeemEnrollToken(ctx context.Context, hash []byte, now time.Time, issue storage.IssueFunc) (storage.Certificate, error)
	EnrollTokenState(ctx context.Context, hash []byte, now time.Time) (string, error)
	RenewCertificate(ctx context.Context, oldSerial string, now time.Time, issue storage.RenewFunc) (storage.Certificate, error)
	CertificateStore

	// Lineage evidence and the clone action.
	GetCertificate(ctx context.Context, serial string) (storage.Certificate, error)
	MarkCertificateUsed(ctx context.Context, serial string, now time.Time) error
	CertificateFirstUsed(ctx context.Context, serial string) (time.Time, error)
	MarkLineageSuspect(ctx context.Context, successor, refused string) (int64, error)
	CertificateSuspect(ctx context.Context, serial string) (bool, error)
	SuspectByFingerprint(ctx context.Context, fingerprint string) (storage.SuspectCertificate, bool, error)
	// DisableClientAudited disables the client and writes its audit row.
	DisableClientAudited(ctx context.Context, id, serial, reason string, now time.Time) error
}

// Issuer signs leaf certificates and verifies the ones clients present.
// *ca.Authority implements it.
type Issuer interface {
	IssueLeaf(req ca.LeafRequest) (*x509.Certificate, error)
	ChainPEM(leaf *x509.Certificate) []byte
	RootPEM() []byte
	PeerVerifier
}

// Config configures a Service.
type Config struct {
	Store Store  // required
	CA    Issuer // required
	// CertLifetime is the lifetime of issued leaves. Zero means
	// DefaultCertLifetime; more than MaxCertLifetime is refused by New.
	CertLifetime time.Duration
	// OnClone is what Renew does when shown a certificate that was already
	// renewed (see CloneAction). Zero means CloneDisableIfUsed.
	OnClone CloneAction
	// ReservedDNSNames are certbound's own server names (`serve --dns`,
	// without the IP addresses): no enrollment token may allow one
	// (MintToken refuses with a *ReservedNameError wrapping
	// ErrInvalidRequest) and no certificate Enroll or Renew issues may carry
	// one (a *ReservedNameError; the token stays unspent). Clients that
	// cannot check certbound's server identity (curl, browsers, the seed's
	// JavaScript) then cannot be sent to a service by name. Nil reserves
	// nothing.
	ReservedDNSNames []string
	// Now returns the current time. Zero means time.Now.
	Now func() time.Time
}

// Service mints enrollment tokens, enrolls and renews. Safe for concurrent use.
type Service struct {
	store     Store
	inventory CertificateStore
	ca        Issuer
	lifetime  time.Duration
	now       func() time.Time
	reserved  []string // lowercase; never modified after New

	onCloneAction CloneAction // never ""
}

// New checks cfg and returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.CA == nil {
		return nil, errors.New("enroll: Store and CA are required")
	}
	s := &Service{store: cfg.Store, inventory: cfg.Store, ca: cfg.CA, lifetime: cfg.CertLifetime, now: cfg.Now}
	if s.lifetime == 0 {
		s.lifetime = DefaultCertLifetime
	}
	// Seconds-long lifetimes are allowed for tests and demos of renewal.
	if s.lifetime < time.Second || s.lifetime > MaxCertLifetime {
		return nil, fmt.Errorf("enroll: certificate lifetime %s is outside 1s..%s", s.lifetime, MaxCertLifetime)
	}
	if s.now == nil {
		s.now = time.Now
	}
	action, err := ParseCloneAction(string(cfg.OnClone))
	if err != nil {
		return nil, fmt.Errorf("enroll: %w", err)
	}
	s.onCloneAction = action
	for _, n := range cfg.ReservedDNSNames {
		s.reserved = append(s.reserved, strings.ToLower(n))
	}
	return s, nil
}

// checkReserved refuses names that include one of the server's own.
func (s *Service) checkReserved(names []string) error {
	for _, n := range names {
		if slices.Contains(s.reserved, strings.ToLower(n)) {
			return &ReservedNameError{Name: n}
		}
	}
	return nil
}

// CertLifetime returns the lifetime of the certificates the service issues.
func (s *Service) CertLifetime() time.Duration { return s.lifetime }

// TokenRequest asks for an enrollment token.
type TokenRequest struct {
	ClientID string
	// TTL is how long the token stays redeemable. Zero means
	// DefaultTokenLifetime; at most MaxTokenLifetime.
	TTL time.Duration
	// DNSNames the redeeming CSR may ask for (each a valid DNS name).
	DNSNames []string
}

// Token is a freshly minted enrollment token. Token is shown once.
type Token struct {
	Token     secret.Secret
	ClientID  string
	DNSNames  []string
	ExpiresAt time.Time
}

// MintToken creates a one-time enrollment token for an existing, enabled client.
func (s *Service) MintToken(ctx context.Context, req TokenRequest) (Token, error) {
	ttl := req.TTL
	if ttl == 0 {
		ttl = DefaultTokenLifetime
	}
	if ttl < 0 || ttl > MaxTokenLifetime {
		return Token{}, fmt.Errorf("%w: token ttl must be between 1s and %s", ErrInvalidRequest, MaxTokenLifetime)
	}
	if len(req.DNSNames) > maxTokenDNSNames {
		return Token{}, fmt.Errorf("%w: at most %d DNS names", ErrInvalidRequest, maxTokenDNSNames)
	}
	for _, n := range req.DNSNames {
		if !certs.ValidDNSName(n) {
			return Token{}, fmt.Errorf("%w: %q is not a valid DNS name", ErrInvalidRequest, n)
		}
	}
	if err := s.checkReserved(req.DNSNames); err != nil {
		return Token{}, fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	client, err := s.store.GetClient(ctx, req.ClientID)
	if errors.Is(err, storage.ErrNotFound) {
		return Token{}, ErrNotFound
	}
	if err != nil {
		return Token{}, err
	}
	if client.Disabled {
		return Token{}, ErrClientDisabled
	}
	now := s.now()
	tok := secret.New(tokenPrefix)
	rec := storage.EnrollToken{Hash: tok.Hash(), ClientID: client.ID, DNSNames: req.DNSNames, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	if err := s.store.InsertEnrollToken(ctx, rec); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return Token{}, ErrNotFound // deleted meanwhile
		}
		return Token{}, err
	}
	return Token{Token: tok, ClientID: client.ID, DNSNames: req.DNSNames, ExpiresAt: rec.ExpiresAt.Truncate(time.Second)}, nil
}

// Issued is the result of an enrollment or renewal.
type Issued struct {
	Leaf     *x509.Certificate
	ChainPEM []byte // leaf + intermediate
	RootPEM  []byte
	Record   storage.Certificate
	SPIFFEID string
}

// Enroll redeems token for a certificate on the key of csrPEM. The CSR is
// checked before the token is touched; a refused CSR leaves it redeemable.
func (s *Service) Enroll(ctx context.Context, token secret.Secret, csrPEM []byte) (*Issued, error) {
	csr, err := parseCSR(csrPEM)
	if err != nil {
		return nil, err
	}
	var leaf *x509.Certificate
	rec, err := s.store.RedeemEnrollToken(ctx, token.Hash(), s.now(), func(tok storage.EnrollToken, client storage.Client) (storage.Certificate, error) {
		if client.Disabled {
			return storage.Certificate{}, ErrClientDisabled
		}
		names, err := requestedNames(csr, client.ID, tok.DNSNames)
		if err != nil {
			return storage.Certificate{}, err
		}
		if err := s.checkReserved(names); err != nil {
			return storage.Certificate{}, err // a token minted before the name was reserved
		}
		leaf, err = s.ca.IssueLeaf(ca.LeafRequest{ClientID: client.ID, PublicKey: csr.PublicKey, DNSNames: names, Lifetime: s.lifetime})
		if err != nil {
			return storage.Certificate{}, err
		}
		return record(leaf, client.ID, s.now()), nil
	})
	if errors.Is(err, storage.ErrNotFound) {
		return nil, s.tokenRefusal(ctx, token.Hash())
	}
	if err != nil {
		return nil, err
	}
	return s.issued(leaf, rec), nil
}

// VerifyRenewal verifies the certificates a TLS client presented for a
// renewal (ca.VerifyClient: chain, revocation, client status) without
// recording the certificate's use: Renew records it, in the renewal's
// transaction when the renewal succeeds. A caller that gets a Peer here and
// then refuses the request without calling Renew calls RecordUse.
//
// A certificate whose lineage is marked suspect is refused here, after the
// clone action was applied (*SuspectUseError).
func (s *Service) VerifyRenewal(ctx context.Context, chain []*x509.Certificate) (ca.Peer, error) {
	peer, err := s.ca.VerifyClient(ctx, chain)
	if err != nil {
		return peer, err
	}
	if err := s.checkLineage(ctx, peer); err != nil {
		return ca.Peer{}, err
	}
	return peer, nil
}

// RecordUse records that peer's certificate authenticated a request, unless
// an earlier use is recorded: the evidence CloneDisableIfUsed relies on. A
// failure is not the caller's (the use is recorded at the next one), so it
// is not returned.
func (s *Service) RecordUse(ctx context.Context, peer ca.Peer) {
	_ = s.store.MarkCertificateUsed(ctx, peer.Serial(), s.now())
}

// Renew issues a certificate for a new key (csrPEM) to the verified peer.
// The new certificate keeps the peer's identity and DNS names. A certificate
// is renewed once: presenting it again fails with a *CloneError (wrapping
// ErrAlreadyRenewed), after the configured CloneAction was applied.
//
// The renewal is a use of the presented certificate: Renew records it (see
// RecordingVerifier) in the renewal's transaction, or on its own when the
// renewal is refused.
func (s *Service) Renew(ctx context.Context, peer ca.Peer, csrPEM []byte) (*Issued, error) {
	is, err := s.renew(ctx, peer, csrPEM)
	if err != nil {
		s.RecordUse(ctx, peer)
	}
	return is, err
}

func (s *Service) renew(ctx context.Context, peer ca.Peer, csrPEM []byte) (*Issued, error) {
	csr, err := parseCSR(csrPEM)
	if err != nil {
		return nil, err
	}
	current := peer.Certificate()
	var leaf *x509.Certificate
	var successor string
	rec, err := s.store.RenewCertificate(ctx, peer.Serial(), s.now(), func(old storage.Certificate, client storage.Client) (storage.Certificate, error) {
		switch {
		case client.Disabled:
			return storage.Certificate{}, ErrClientDisabled
		case old.Revoked():
			return storage.Certificate{}, ErrRevoked
		case old.SupersededBy != "":
			successor = old.SupersededBy
			return storage.Certificate{}, ErrAlreadyRenewed
		}
		names, err := requestedNames(csr, client.ID, current.DNSNames)
		if err != nil {
			return storage.Certificate{}, err
		}
		if len(csr.DNSNames) == 0 {
			names = current.DNSNames // a bare renewal CSR keeps the names
		}
		if err := s.checkReserved(names); err != nil {
			return storage.Certificate{}, err // a certificate issued before the name was reserved
		}
		leaf, err = s.ca.IssueLeaf(ca.LeafRequest{ClientID: client.ID, PublicKey: csr.PublicKey, DNSNames: names, Lifetime: s.lifetime})
		if err != nil {
			return storage.Certificate{}, err
		}
		return record(leaf, client.ID, s.now()), nil
	})
	switch {
	case errors.Is(err, ErrAlreadyRenewed), errors.Is(err, storage.ErrConflict):
		// ErrConflict: lost a race with a concurrent renewal of the same certificate.
		return nil, s.onClone(ctx, peer, successor)
	case errors.Is(err, storage.ErrSuspectLineage):
		// Marked after VerifyRenewal looked: the same verdict. (Under
		// CloneRefuse only a mark left from an earlier --on-clone gets
		// here: the renewal is refused, the client left as it is.)
		if s.onCloneAction == CloneRefuse {
			return nil, &SuspectUseError{ClientID: peer.ClientID(), Serial: peer.Serial()}
		}
		return nil, s.suspectUsed(ctx, peer.ClientID(), peer.Serial(), "")
	case errors.Is(err, storage.ErrNotFound):
		return nil, ErrRevoked // no record of it: never accept
	case err != nil:
		return nil, err
	}
	return s.issued(leaf, rec), nil
}

func (s *Service) issued(leaf *x509.Certificate, rec storage.Certificate) *Issued {
	id, _ := certs.IDFromCertificate(leaf)
	return &Issued{Leaf: leaf, ChainPEM: s.ca.ChainPEM(leaf), RootPEM: s.ca.RootPEM(), Record: rec, SPIFFEID: id.String()}
}

func record(leaf *x509.Certificate, clientID string, now time.Time) storage.Certificate {
	return storage.Certificate{
		Serial:      certs.SerialString(leaf.SerialNumber),
		ClientID:    clientID,
		Fingerprint: certs.Fingerprint(leaf.Raw),
		NotBefore:   leaf.NotBefore,
		NotAfter:    leaf.NotAfter,
		CreatedAt:   now,
	}
}

// parseCSR applies certs.ParseCSR and refuses requests for a CA certificate:
// certbound only issues end-entity certificates, and a CSR that asks for more
// is a mistake or an attack better reported than silently narrowed.
func parseCSR(csrPEM []byte) (*x509.CertificateRequest, error) {
	csr, err := certs.ParseCSR(csrPEM)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadCSR, err)
	}
	for _, ext := range csr.Extensions {
		if ext.Id.Equal(oidBasicConstraints) && asksForCA(ext.Value) {
			return nil, fmt.Errorf("%w: the request asks for a CA certificate", ErrBadCSR)
		}
	}
	return csr, nil
}

// requestedNames returns the DNS names of csr after checking that each is
// allowed, and refuses every other kind of name: the SPIFFE ID is the only URI
// certbound puts in a certificate, and it comes from the client, not the CSR.
func requestedNames(csr *x509.CertificateRequest, clientID string, allowed []string) ([]string, error) {
	for _, u := range csr.URIs {
		id, err := certs.ParseID(u.String())
		if err != nil || id.ClientID != clientID {
			return nil, &NameError{Name: u.String()}
		}
	}
	if len(csr.IPAddresses) > 0 {
		return nil, &NameError{Name: csr.IPAddresses[0].String()}
	}
	if len(csr.EmailAddresses) > 0 {
		return nil, &NameError{Name: csr.EmailAddresses[0]}
	}
	var names []string
	for _, n := range csr.DNSNames {
		n = strings.ToLower(n)
		if !slices.Contains(allowed, n) {
			return nil, &NameError{Name: n}
		}
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return names, nil
}

// tokenRefusal says, for the log and the audit trail only, why a token was
// refused: a second read after the failed redemption, on the failure path
// alone. The caller's answer is ErrTokenInvalid whatever it finds.
func (s *Service) tokenRefusal(ctx context.Context, hash []byte) error {
	state, err := s.store.EnrollTokenState(ctx, hash, s.now())
	if err != nil || state == storage.TokenValid { // valid: it changed since (a client deleted, a race)
		return &TokenRefusal{Reason: "token_invalid"}
	}
	return &TokenRefusal{Reason: "token_" + state}
}
