package tokenex

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/certbound/certbound/certs/secret"
)

// TokenRequest is a client-credentials token request (RFC 6749 §4.4.2), from
// POST /oauth2/token or, with its fields translated, from the seed's
// POST /auth/oauth/token (SPEC §9). Empty strings mean "absent": RFC 6749
// §3.2 treats a parameter sent without a value as omitted.
type TokenRequest struct {
	ClientAuth
	// GrantType must be "client_credentials" (case-sensitive).
	GrantType string
	// Scope is the raw, space-separated scope parameter. Empty: all the
	// client's scopes. The seed's scope array joins with spaces.
	Scope string
	// Audience names one of the client's registered audiences (the
	// "audience" parameter, a certbound extension in RFC 8693's vocabulary).
	Audience string
	// Resource holds the RFC 8707 resource parameters (the parameter may
	// repeat). Each must be an absolute URI without fragment that is one of
	// the client's audiences; a token has one audience, so they must agree.
	Resource []string
}

// Token is an issued access token (RFC 6749 §5.1) plus what the edge logs.
type Token struct {
	// AccessToken is the JWT. It prints as [redacted]; Reveal it only into
	// the response body.
	AccessToken secret.Secret
	TokenType   string // always "Bearer" (RFC 8705 defines no other type)
	ExpiresIn   int64  // seconds
	Scope       string // the granted scopes, space-separated; always sent
	ExpiresAt   time.Time

	// Not secret; for the log.
	ClientID   string
	AuthMethod string
	Audience   string
	Bound      bool // carries cnf.x5t#S256
	KeyID      string
	JTI        string
}

// IssueToken runs the client-credentials grant: it authenticates the client
// by its registered method, grants the scopes and the one audience, and signs
// an RFC 9068 access token, bound to the TLS client certificate whenever one
// was presented (RFC 8705 §3, §4). It writes nothing to the database.
//
// Refusals are *Error: unsupported_grant_type, invalid_request (missing
// grant_type, two authentication methods, client_id mismatch),
// invalid_client, unauthorized_client, invalid_scope, invalid_target. An
// error from Config.Admit is returned as it is. Any other error is a server
// fault.
func (s *Service) IssueToken(ctx context.Context, req TokenRequest) (*Token, error) {
	switch req.GrantType {
	case GrantClientCredentials:
	case "":
		return nil, oauthError(CodeInvalidRequest, ReasonMissingGrantType, "grant_type is required")
	default:
		return nil, oauthError(CodeUnsupportedGrantType, "", "only the client_credentials grant is supported")
	}
	caller, err := s.authenticate(ctx, req.ClientAuth)
	if err != nil {
		return nil, err
	}
	if s.admit != nil {
		if err := s.admit(caller.ClientID); err != nil {
			return nil, err
		}
	}
	c := caller.client
	if !slices.Contains(c.GrantTypes, GrantClientCredentials) {
		return nil, oauthError(CodeUnauthorizedClient, ReasonGrantNotAllowed, "the client may not use the client_credentials grant")
	}
	scopes, err := grantScopes(c.Scopes, req.Scope)
	if err != nil {
		return nil, err
	}
	aud, err := selectAudience(c.Audiences, req.Audience, req.Resource)
	if err != nil {
		return nil, err
	}

	ttl := min(cmp.Or(c.AccessTokenTTL, s.defaultTTL), s.maxTTL)
	iat := s.now().Unix()
	exp := iat + int64(ttl/time.Second)
	scope := strings.Join(scopes, " ")
	claims := accessClaims{
		Iss:      s.issuer,
		Sub:      c.ID,
		Aud:      aud,
		Exp:      exp,
		Nbf:      iat,
		Iat:      iat,
		Jti:      newJTI(),
		ClientID: c.ID,
		Scope:    scope,
		Scp:      scopes,
		Stt:      1,
	}
	if caller.Thumbprint != "" {
		claims.Cnf = &Confirmation{X5tS256: caller.Thumbprint}
	}
	claims.ClientGen = clientGeneration(c)
	key := s.keySet().current
	jws, err := key.sign(&claims)
	if err != nil {
		return nil, fmt.Errorf("tokenex: sign access token: %w", err)
	}
	return &Token{
		AccessToken: secret.FromString(jws),
		TokenType:   "Bearer",
		ExpiresIn:   exp - iat,
		Scope:       scope,
		ExpiresAt:   time.Unix(exp, 0).UTC(),
		ClientID:    c.ID,
		AuthMethod:  c.AuthMethod,
		Audience:    aud,
		Bound:       claims.Cnf != nil,
		KeyID:       key.kid,
		JTI:         claims.Jti,
	}, nil
}

// newJTI returns 128 random bits, base64url (RFC 9068 §2.2 jti).
func newJTI() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// grantScopes applies RFC 6749 §3.3: no scope requested means all the
// client's scopes; otherwise every requested scope must be allowed (the
// comparison is case-sensitive). An empty grant is invalid_scope.
func grantScopes(allowed []string, requested string) ([]string, error) {
	if requested == "" {
		if len(allowed) == 0 {
			return nil, oauthError(CodeInvalidScope, ReasonScopeEmpty, "the client has no scope")
		}
		return allowed, nil
	}
	tokens, ok := parseScope(requested)
	switch {
	case !ok:
		return nil, oauthError(CodeInvalidScope, ReasonScopeSyntax, "scope is not a space-separated list of RFC 6749 section 3.3 tokens")
	case len(tokens) == 0:
		return nil, oauthError(CodeInvalidScope, ReasonScopeEmpty, "scope names no scope")
	}
	for _, t := range tokens {
		if !slices.Contains(allowed, t) {
			return nil, oauthError(CodeInvalidScope, ReasonScopeNotAllowed, "a requested scope is not allowed for this client")
		}
	}
	return tokens, nil
}

// selectAudience picks the token's one audience (RFC 9068 §3, RFC 8707).
func selectAudience(allowed []string, audience string, resources []string) (string, error) {
	var want string
	for _, r := range resources {
		if r == "" {
			continue // a parameter without value is omitted (RFC 6749 §3.2)
		}
		if !validResource(r) {
			return "", oauthError(CodeInvalidTarget, ReasonResourceSyntax, "resource must be an absolute URI without fragment (RFC 8707 section 2)")
		}
		if want != "" && r != want {
			return "", oauthError(CodeInvalidTarget, ReasonTargetConflict, "a token has one audience; the resource values differ")
		}
		want = r
	}
	if audience != "" {
		if want != "" && audience != want {
			return "", oauthError(CodeInvalidTarget, ReasonTargetConflict, "resource and audience name different targets")
		}
		want = audience
	}
	if want == "" {
		if len(allowed) == 0 {
			return "", oauthError(CodeInvalidTarget, ReasonNoDefaultAudience, "the client has no audience")
		}
		return allowed[0], nil
	}
	if !slices.Contains(allowed, want) {
		return "", oauthError(CodeInvalidTarget, ReasonTargetNotAllowed, "the requested audience is not allowed for this client")
	}
	return want, nil
}

// validResource: RFC 8707 §2, an absolute URI (RFC 3986 §4.3) without a
// fragment, in the audience character set.
func validResource(r string) bool {
	if !validAudience(r) || strings.Contains(r, "#") {
		return false
	}
	u, err := url.Parse(r)
	return err == nil && u.Scheme != "" && (u.Host != "" || u.Opaque != "" || u.Path != "")
}
