package tokenex

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/certbound/certbound/certs/secret"
	"github.com/certbound/certbound/storage"
)

// maxTokenBytes bounds what Introspect parses; certbound's tokens are well
// under 1 KiB (ES256) or 1.5 KiB (RS256).
const maxTokenBytes = 8 << 10

// Introspection is an RFC 7662 §2.2 response. An inactive token is exactly
// {"active":false}: the other members are omitted (RFC 7662 §2.2 "SHOULD NOT
// include any additional information about an inactive token").
type Introspection struct {
	Active    bool          `json:"active"`
	Scope     string        `json:"scope,omitempty"`
	ClientID  string        `json:"client_id,omitempty"`
	TokenType string        `json:"token_type,omitempty"` // "Bearer"
	Exp       int64         `json:"exp,omitempty"`
	Iat       int64         `json:"iat,omitempty"`
	Nbf       int64         `json:"nbf,omitempty"`
	Sub       string        `json:"sub,omitempty"`
	Aud       string        `json:"aud,omitempty"`
	Iss       string        `json:"iss,omitempty"`
	JTI       string        `json:"jti,omitempty"`
	Cnf       *Confirmation `json:"cnf,omitempty"` // RFC 8705 §3.2, top level
}

// Introspect reports whether token is an active access token of this
// issuer, and its claims if so. It is inactive when it is not a well-formed
// at+jwt, its kid is not published, its signature does not verify under the
// key's own algorithm, its iss is not this issuer, it has expired or is not
// yet valid, its client has since been disabled or deleted, or it is bound
// (cnf) to a certificate certbound issued and has since revoked (RFC 7662
// §4: "all applicable checks against a token's state"), or whose clone
// lineage is suspect (Config.Lineage; asking is a use of the certificate,
// which disables the client).
//
// Authenticate the caller first (AuthenticateClient or the admin key at the
// edge). The error is non-nil only for a server fault (the store failing);
// an invalid token is a normal, inactive result.
func (s *Service) Introspect(ctx context.Context, token secret.Secret) (Introspection, error) {
	inactive := Introspection{}
	claims, ok := s.verifyToken(token.Reveal())
	if !ok {
		return inactive, nil
	}
	c, err := s.lookupClient(ctx, claims.ClientID)
	if errors.Is(err, storage.ErrNotFound) {
		return inactive, nil
	}
	if err != nil {
		return inactive, fmt.Errorf("tokenex: introspect: look up client: %w", err)
	}
	if c.Disabled || !issuedToRecord(claims, c) {
		return inactive, nil
	}
	if claims.Cnf != nil {
		revoked, err := s.boundCertificateRevoked(ctx, claims.Cnf.X5tS256)
		if err != nil {
			return inactive, err
		}
		if revoked {
			return inactive, nil
		}
		if usable, err := s.boundCertificateUsable(ctx, claims.Cnf.X5tS256); err != nil || !usable {
			return inactive, err
		}
	}
	return Introspection{
		Active:    true,
		Scope:     claims.Scope,
		ClientID:  claims.ClientID,
		TokenType: "Bearer",
		Exp:       claims.ExpiresAt.Unix(),
		Iat:       claims.IssuedAt.Unix(),
		Nbf:       unixOrZero(claims.NotBefore),
		Sub:       claims.Subject,
		Aud:       claims.Audience[0],
		Iss:       claims.Issuer,
		JTI:       claims.ID,
		Cnf:       claims.Cnf,
	}, nil
}

// issuedToRecord reports whether the token was issued to the client record
// c, not to an earlier, deleted record of the same id. Tokens carry the
// record's random generation (client_gen), which a new record of the same
// id does not share, however soon after the deletion it was created. A
// token without one (issued before generations existed, or to a record
// imported without one) must at least be no older than the record, to the
// second: iat has no finer precision, so such a token of a record deleted
// and created again within one second passes. Only certbound's signing keys
// make tokens, and it puts client_gen in every token of a record that has
// one, so no new token lacks it.
func issuedToRecord(claims *parsedClaims, c storage.Client) bool {
	if claims.ClientGen != "" {
		return claims.ClientGen == clientGeneration(c)
	}
	return !claims.IssuedAt.Time.Before(c.CreatedAt.Truncate(time.Second))
}

// clientGeneration is the client_gen claim of tokens issued to c: its
// record's generation, base64url; "" for a record without one.
func clientGeneration(c storage.Client) string {
	return base64.RawURLEncoding.EncodeToString(c.Generation)
}

func unixOrZero(d *jwt.NumericDate) int64 {
	if d == nil {
		return 0
	}
	return d.Unix()
}

// verifyToken checks everything about raw that needs no database: typ, a
// published kid, the signature under that key's algorithm (never the
// token's choice), iss, exp/nbf/iat against the clock, and the claims
// certbound always sets. No leeway: the clock that issued is the one
// checking.
func (s *Service) verifyToken(raw string) (*parsedClaims, bool) {
	if raw == "" || len(raw) > maxTokenBytes {
		return nil, false
	}
	ks := s.keySet()
	now := s.now()
	claims := new(parsedClaims)
	_, err := jwt.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		if typ, _ := t.Header["typ"].(string); typ != "at+jwt" {
			return nil, errors.New("typ is not at+jwt")
		}
		kid, _ := t.Header["kid"].(string)
		k := ks.lookup(kid, now)
		if k == nil {
			return nil, errors.New("unknown kid")
		}
		if t.Method.Alg() != k.alg {
			return nil, errors.New("alg does not match the key")
		}
		return k.public, nil
	},
		jwt.WithValidMethods([]string{ES256, RS256}),
		jwt.WithIssuer(s.issuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithStrictDecoding(),
		jwt.WithTimeFunc(s.now),
	)
	if err != nil {
		return nil, false
	}
	if claims.ClientID == "" || claims.Subject != claims.ClientID || len(claims.Audience) != 1 ||
		claims.ID == "" || claims.IssuedAt == nil || (claims.Cnf != nil && claims.Cnf.X5tS256 == "") {
		return nil, false
	}
	return claims, true
}

// boundCertificateRevoked reports whether the certificate with this
// x5t#S256 is one certbound issued and has revoked. The stored fingerprint
// is the hex form of the same SHA-256 digest. A certificate certbound did
// not issue (self-signed, say) is never revoked here.
func (s *Service) boundCertificateRevoked(ctx context.Context, x5t string) (bool, error) {
	sum, err := base64.RawURLEncoding.DecodeString(x5t)
	if err != nil || len(sum) != 32 {
		return true, nil // not a thumbprint certbound wrote: treat as dead
	}
	revoked, err := s.store.FingerprintRevoked(ctx, hex.EncodeToString(sum))
	if err != nil {
		return false, fmt.Errorf("tokenex: introspect: certificate status: %w", err)
	}
	return revoked, nil
}

// boundCertificateUsable asks the lineage checker, if any, about the
// certificate with this x5t#S256 (already known to be well-formed).
func (s *Service) boundCertificateUsable(ctx context.Context, x5t string) (bool, error) {
	if s.lineage == nil {
		return true, nil
	}
	sum, err := base64.RawURLEncoding.DecodeString(x5t)
	if err != nil {
		return false, nil
	}
	ok, err := s.lineage.BoundCertificateUsable(ctx, hex.EncodeToString(sum))
	if err != nil {
		return false, fmt.Errorf("tokenex: introspect: certificate lineage: %w", err)
	}
	return ok, nil
}
