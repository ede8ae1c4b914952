package tokenex

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/certbound/certbound/certs"
	"github.com/certbound/certbound/certs/secret"
	"github.com/certbound/certbound/storage"
)

// Client authentication methods (RFC 7591 token_endpoint_auth_method; RFC
// 8705 §2.1.1, §2.2.1).
const (
	MethodTLSClientAuth           = "tls_client_auth"
	MethodSelfSignedTLSClientAuth = "self_signed_tls_client_auth"
	MethodClientSecretBasic       = "client_secret_basic"
	MethodClientSecretPost        = "client_secret_post"
)

// authMethods lists the supported methods, in the order the metadata advertises them.
var authMethods = []string{MethodTLSClientAuth, MethodSelfSignedTLSClientAuth, MethodClientSecretBasic, MethodClientSecretPost}

// GrantClientCredentials is the only grant type (RFC 6749 §4.4).
const GrantClientCredentials = "client_credentials"

// SecretPrefix starts every client secret, so that a leaked one is easy to
// recognise.
const SecretPrefix = "cbs_"

// Registry limits.
const (
	maxAudiences     = 32
	maxAudienceLen   = 512
	maxClientNameLen = 200
	maxListLimit     = 1000
	defaultListLimit = 100
)

// ClientSpec is a client registration (SPEC §6, RFC 7591 names). Zero fields
// take the defaults documented on each.
type ClientSpec struct {
	// ClientID must match ^[a-z0-9][a-z0-9._-]{0,62}$. Empty: derived from
	// ClientName (a lowercase slug, with a short random suffix if taken).
	ClientID string
	// ClientName is a human-readable name. Required when ClientID is empty.
	ClientName string
	// Scope is the space-separated list of scopes the client may request,
	// each an RFC 6749 §3.3 scope-token. Empty: none (the client gets no
	// token until a scope is added).
	Scope string
	// Audience lists the audiences the client may request, the first being
	// its default. Each is printable ASCII without spaces and not the issuer.
	Audience []string
	// GrantTypes: only "client_credentials". Empty means that.
	GrantTypes []string
	// TokenEndpointAuthMethod is one of the Method* constants. Empty means
	// tls_client_auth.
	TokenEndpointAuthMethod string

	// TLSClientAuthSANURI is the URI SAN a tls_client_auth client's
	// certificate must carry: a SPIFFE ID of the trust domain. Empty means
	// the client's own SPIFFE ID, spiffe://<trust-domain>/<client_id>.
	TLSClientAuthSANURI string
	// The other RFC 8705 §2.1.2 subject parameters. certbound does not
	// support them: any non-empty one is refused. The edge passes whatever
	// it received, so that a client registering two subjects hears so.
	TLSClientAuthSubjectDN string
	TLSClientAuthSANDNS    string
	TLSClientAuthSANIP     string
	TLSClientAuthSANEmail  string

	// SelfSignedCertificates are PEM texts of the certificates a
	// self_signed_tls_client_auth client may present. With JWKS, at least
	// one certificate is required for that method; other methods take none.
	SelfSignedCertificates []string
	// JWKS is an RFC 7591 "jwks" JWK Set whose keys carry x5c (RFC 8705
	// §2.2.2), an alternative to SelfSignedCertificates.
	JWKS json.RawMessage
	// JWKSURI (RFC 7591 "jwks_uri") is not supported; non-empty is refused.
	JWKSURI string

	// AccessTokenTTL is this client's token lifetime, in whole seconds, at
	// most the service's MaxTokenTTL. Zero means the service default.
	AccessTokenTTL time.Duration
}

// ClientPatch changes a client (SPEC §6 PATCH). Nil fields stay as they are.
type ClientPatch struct {
	ClientName     *string
	Scope          *string
	Audience       *[]string
	Disabled       *bool
	AccessTokenTTL *time.Duration
}

// Client is the registry's view of a client. It never carries the secret
// or its hash.
type Client struct {
	ID                      string
	Name                    string
	Scopes                  []string // allowed scope tokens
	Audience                []string // allowed audiences; Audience[0] is the default
	GrantTypes              []string
	TokenEndpointAuthMethod string
	TLSClientAuthSANURI     string   // tls_client_auth only
	SelfSignedCertificates  []string // PEM, self_signed_tls_client_auth only
	Thumbprints             []string // x5t#S256 of SelfSignedCertificates
	AccessTokenTTL          time.Duration
	Disabled                bool
	CreatedAt               time.Time
	UpdatedAt               time.Time
}

// Scope returns the allowed scopes space-separated, as RFC 7591 "scope".
func (c Client) Scope() string { return strings.Join(c.Scopes, " ") }

// HasSecret reports whether the client authenticates with a secret.
func (c Client) HasSecret() bool { return secretMethod(c.TokenEndpointAuthMethod) }

func secretMethod(m string) bool { return m == MethodClientSecretBasic || m == MethodClientSecretPost }

func clientView(r storage.Client) Client {
	return Client{
		ID:                      r.ID,
		Name:                    r.Name,
		Scopes:                  r.Scopes,
		Audience:                r.Audiences,
		GrantTypes:              r.GrantTypes,
		TokenEndpointAuthMethod: r.AuthMethod,
		TLSClientAuthSANURI:     r.SANURI,
		SelfSignedCertificates:  decodeSelfSigned(r.SelfSignedPEM),
		Thumbprints:             r.Thumbprints,
		AccessTokenTTL:          r.AccessTokenTTL,
		Disabled:                r.Disabled,
		CreatedAt:               r.CreatedAt,
		UpdatedAt:               r.UpdatedAt,
	}
}

// RegisterClient validates spec, fills its defaults and stores the client.
// For the secret methods it returns a fresh secret, shown this once: only
// its SHA-256 is stored. Otherwise the secret is zero. Errors: *Error with
// CodeInvalidClientMetadata for a bad spec, ErrConflict for a taken
// ClientID.
func (s *Service) RegisterClient(ctx context.Context, spec ClientSpec) (Client, secret.Secret, error) {
	rec, err := s.checkSpec(spec)
	if err != nil {
		return Client{}, secret.Secret{}, err
	}
	var sec secret.Secret
	if secretMethod(rec.AuthMethod) {
		sec = secret.New(SecretPrefix)
		rec.SecretHash = sec.Hash()
	}
	now := s.now()
	rec.CreatedAt, rec.UpdatedAt = now, now
	rec.Generation = newGeneration()

	if spec.ClientID != "" {
		if err := s.store.CreateClient(ctx, rec); err != nil {
			return Client{}, secret.Secret{}, registryError(err)
		}
		return clientView(rec), sec, nil
	}
	// Derived id: the slug, then the slug with random suffixes.
	base := slug(spec.ClientName)
	for attempt := range 5 {
		rec.ID = base
		if attempt > 0 {
			rec.ID = withSuffix(base)
		}
		if rec.AuthMethod == MethodTLSClientAuth && spec.TLSClientAuthSANURI == "" {
			rec.SANURI = certs.ID{TrustDomain: s.trustDomain, ClientID: rec.ID}.String()
		}
		err := s.store.CreateClient(ctx, rec)
		if err == nil {
			return clientView(rec), sec, nil
		}
		if !errors.Is(err, storage.ErrConflict) {
			return Client{}, secret.Secret{}, registryError(err)
		}
	}
	return Client{}, secret.Secret{}, ErrConflict
}

// checkSpec turns a spec into the record to store (without id for derived
// ids, times and secret).
func (s *Service) checkSpec(spec ClientSpec) (storage.Client, error) {
	rec := storage.Client{ID: spec.ClientID}
	if spec.ClientID != "" && !certs.ValidClientID(spec.ClientID) {
		return rec, metadataError("client_id must match ^[a-z0-9][a-z0-9._-]{0,62}$")
	}
	if spec.ClientID == "" && strings.TrimSpace(spec.ClientName) == "" {
		return rec, metadataError("client_id or client_name is required")
	}
	var err error
	if rec.Name, err = checkName(spec.ClientName); err != nil {
		return rec, err
	}
	if rec.Scopes, err = checkScope(spec.Scope); err != nil {
		return rec, err
	}
	if rec.Audiences, err = s.checkAudience(spec.Audience); err != nil {
		return rec, err
	}
	if rec.AccessTokenTTL, err = s.checkTTL(spec.AccessTokenTTL); err != nil {
		return rec, err
	}
	rec.GrantTypes = []string{GrantClientCredentials}
	for _, g := range spec.GrantTypes {
		if g != GrantClientCredentials {
			return rec, metadataError("grant_types: only client_credentials is supported")
		}
	}

	rec.AuthMethod = cmp.Or(spec.TokenEndpointAuthMethod, MethodTLSClientAuth)
	if !slices.Contains(authMethods, rec.AuthMethod) {
		return rec, metadataError("token_endpoint_auth_method must be one of " + strings.Join(authMethods, ", "))
	}

	// RFC 8705 §2.1.2: exactly one subject parameter, for tls_client_auth only.
	others := 0
	for _, v := range []string{spec.TLSClientAuthSubjectDN, spec.TLSClientAuthSANDNS, spec.TLSClientAuthSANIP, spec.TLSClientAuthSANEmail} {
		if v != "" {
			others++
		}
	}
	switch {
	case rec.AuthMethod != MethodTLSClientAuth && (others > 0 || spec.TLSClientAuthSANURI != ""):
		return rec, metadataError("tls_client_auth_* parameters apply to tls_client_auth only")
	case others > 0 && spec.TLSClientAuthSANURI != "":
		return rec, metadataError("exactly one tls_client_auth subject parameter is allowed (RFC 8705 section 2.1.2)")
	case others > 0:
		return rec, metadataError("only tls_client_auth_san_uri is supported as tls_client_auth subject")
	}
	if rec.AuthMethod == MethodTLSClientAuth {
		switch {
		case spec.TLSClientAuthSANURI != "":
			id, err := certs.ParseID(spec.TLSClientAuthSANURI)
			if err != nil || id.TrustDomain != s.trustDomain || id.String() != spec.TLSClientAuthSANURI {
				return rec, metadataErrorCause("tls_client_auth_san_uri must be a SPIFFE ID spiffe://"+s.trustDomain+"/<client_id>", err)
			}
			rec.SANURI = spec.TLSClientAuthSANURI
		case spec.ClientID != "":
			rec.SANURI = certs.ID{TrustDomain: s.trustDomain, ClientID: spec.ClientID}.String()
		}
	}

	// Self-signed certificates (RFC 8705 §2.2.2).
	if spec.JWKSURI != "" {
		if len(spec.JWKS) > 0 {
			return rec, metadataError("jwks and jwks_uri must not both be present (RFC 7591 section 2)")
		}
		return rec, metadataError("jwks_uri is not supported; register jwks or self_signed_certificates")
	}
	hasCerts := len(spec.SelfSignedCertificates) > 0 || len(spec.JWKS) > 0
	switch {
	case rec.AuthMethod != MethodSelfSignedTLSClientAuth && hasCerts:
		return rec, metadataError("self-signed certificates apply to self_signed_tls_client_auth only")
	case rec.AuthMethod == MethodSelfSignedTLSClientAuth:
		list, err := parseSelfSigned(spec.SelfSignedCertificates, spec.JWKS, s.now())
		if err != nil {
			return rec, err
		}
		if len(list) == 0 {
			return rec, metadataError("self_signed_tls_client_auth needs at least one certificate")
		}
		rec.Thumbprints, rec.SelfSignedPEM = encodeSelfSigned(list)
	}
	return rec, nil
}

func checkName(name string) (string, error) {
	if len(name) > maxClientNameLen || !utf8.ValidString(name) {
		return "", metadataError(fmt.Sprintf("client_name must be valid UTF-8 of at most %d bytes", maxClientNameLen))
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return "", metadataError("client_name must not contain control characters")
		}
	}
	return name, nil
}

func checkScope(scope string) ([]string, error) {
	tokens, ok := parseScope(scope)
	if !ok {
		return nil, metadataError(fmt.Sprintf("scope must be space-separated RFC 6749 section 3.3 tokens (printable ASCII except double quote and backslash, at most %d of at most %d bytes)", maxScopeTokens, maxScopeTokenLen))
	}
	return tokens, nil
}

func (s *Service) checkAudience(auds []string) ([]string, error) {
	if len(auds) > maxAudiences {
		return nil, metadataError(fmt.Sprintf("at most %d audiences", maxAudiences))
	}
	out := make([]string, 0, len(auds))
	for _, a := range auds {
		if !validAudience(a) {
			return nil, metadataError(fmt.Sprintf("each audience must be 1 to %d bytes of printable ASCII without space, double quote or backslash", maxAudienceLen))
		}
		if a == s.issuer {
			return nil, metadataError("an audience must not be the issuer (RFC 9068 section 5)")
		}
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out, nil
}

// validAudience: a name like "event" or a URI like "https://rs.example/";
// the scope-token character set keeps it safe everywhere it is echoed.
func validAudience(a string) bool {
	if a == "" || len(a) > maxAudienceLen {
		return false
	}
	for i := 0; i < len(a); i++ {
		if c := a[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

func (s *Service) checkTTL(ttl time.Duration) (time.Duration, error) {
	switch {
	case ttl == 0:
		return 0, nil
	case ttl < time.Second:
		return 0, metadataError("access_token_ttl must be at least 1 second")
	case ttl > s.maxTTL:
		return 0, metadataError(fmt.Sprintf("access_token_ttl must be at most %d seconds", int64(s.maxTTL/time.Second)))
	}
	return ttl.Truncate(time.Second), nil
}

// slug derives a client id from a name: lowercase, runs of other characters
// turned into one '-', trimmed, at most 48 bytes (room for a suffix).
func slug(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '_':
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
		default:
			dash = true
		}
		if b.Len() >= 48 {
			break
		}
	}
	out := strings.TrimLeft(b.String(), "._-")
	if len(out) > 48 {
		out = out[:48]
	}
	if out == "" {
		out = "client"
	}
	return out
}

// newGeneration returns the random generation of a new client record: 128
// bits, so that no two records of one id ever share it (storage.Client).
func newGeneration() []byte {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (Go 1.24+)
	return b
}

// withSuffix appends "-" and six random base32 characters.
func withSuffix(base string) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	var b [6]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[b[i]&31]
	}
	return base + "-" + string(b[:])
}

func registryError(err error) error {
	switch {
	case errors.Is(err, storage.ErrConflict):
		return ErrConflict
	case errors.Is(err, storage.ErrNotFound):
		return ErrNotFound
	}
	return fmt.Errorf("tokenex: %w", err)
}

// GetClient returns the client with id, or ErrNotFound.
func (s *Service) GetClient(ctx context.Context, id string) (Client, error) {
	rec, err := s.store.GetClient(ctx, id)
	if err != nil {
		return Client{}, registryError(err)
	}
	return clientView(rec), nil
}

// ListClients returns up to limit clients ordered by id, after the id after
// ("" starts at the beginning). limit <= 0 means 100; it is capped at 1000.
func (s *Service) ListClients(ctx context.Context, after string, limit int) ([]Client, error) {
	if limit <= 0 {
		limit = defaultListLimit
	}
	limit = min(limit, maxListLimit)
	recs, err := s.store.ListClients(ctx, after, limit)
	if err != nil {
		return nil, registryError(err)
	}
	out := make([]Client, len(recs))
	for i, r := range recs {
		out[i] = clientView(r)
	}
	return out, nil
}

// UpdateClient applies p to the client id and returns the result. The same
// rules as RegisterClient apply to the changed fields. Disabling a client
// makes its tokens inactive at introspection and stops new ones at once.
//
// The patch is applied to the record as it is inside the write transaction
// (Store.ModifyClient): two PATCHes of different fields both land, and a
// PATCH never undoes a disable that happened after the caller looked.
func (s *Service) UpdateClient(ctx context.Context, id string, p ClientPatch) (Client, error) {
	var invalid error // a field the rules refuse: the caller's mistake, returned as it is
	rec, err := s.store.ModifyClient(ctx, id, func(rec *storage.Client) error {
		invalid = s.applyPatch(rec, p)
		return invalid
	})
	switch {
	case invalid != nil:
		return Client{}, invalid
	case err != nil:
		return Client{}, registryError(err)
	}
	return clientView(rec), nil
}

// applyPatch checks p's fields and sets them on rec.
func (s *Service) applyPatch(rec *storage.Client, p ClientPatch) error {
	var err error
	if p.ClientName != nil {
		if rec.Name, err = checkName(*p.ClientName); err != nil {
			return err
		}
	}
	if p.Scope != nil {
		if rec.Scopes, err = checkScope(*p.Scope); err != nil {
			return err
		}
	}
	if p.Audience != nil {
		if rec.Audiences, err = s.checkAudience(*p.Audience); err != nil {
			return err
		}
	}
	if p.AccessTokenTTL != nil {
		if rec.AccessTokenTTL, err = s.checkTTL(*p.AccessTokenTTL); err != nil {
			return err
		}
	}
	if p.Disabled != nil {
		rec.Disabled = *p.Disabled
	}
	rec.UpdatedAt = s.now()
	return nil
}

// DeleteClient deletes the client id and revokes its certificates (SPEC §6).
// ErrNotFound if there is none.
func (s *Service) DeleteClient(ctx context.Context, id string) error {
	if err := s.store.DeleteClient(ctx, id, s.now()); err != nil {
		return registryError(err)
	}
	return nil
}

// RotateClientSecret gives a secret-method client a new secret, shown this
// once; the old one stops working at once. A client of another method gets
// invalid_client_metadata.
func (s *Service) RotateClientSecret(ctx context.Context, id string) (secret.Secret, error) {
	sec := secret.New(SecretPrefix)
	var notSecret error
	_, err := s.store.ModifyClient(ctx, id, func(rec *storage.Client) error {
		if !secretMethod(rec.AuthMethod) {
			notSecret = metadataError("the client does not authenticate with a secret")
			return notSecret
		}
		rec.SecretHash = sec.Hash()
		rec.UpdatedAt = s.now()
		return nil
	})
	switch {
	case notSecret != nil:
		return secret.Secret{}, notSecret
	case err != nil:
		return secret.Secret{}, registryError(err)
	}
	return sec, nil
}
