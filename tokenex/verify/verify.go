package verify

import (
	"context"
	"crypto/subtle"
	"crypto/x509"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/certbound/certbound/certs"
	"github.com/golang-jwt/jwt/v5"
)

// MaxTokenBytes bounds the tokens Verify reads; longer ones are malformed.
// A certbound token is well under 1 KiB.
const MaxTokenBytes = 8 << 10

// Verifier checks certbound access tokens. It is safe for concurrent use.
type Verifier struct {
	issuer       string        // exact "iss"
	audience     string        // must be in "aud"
	allowUnbound bool          // accept tokens without "cnf"
	leeway       time.Duration // > 0
	now          func() time.Time
	realm        string        // quotable; for the middleware's challenges
	proxy        *TrustedProxy // nil: certificates come from TLS only; validated by New
	keys         *keySet       // never nil
}

// New validates cfg, finds the JWKS (through the issuer's metadata unless
// cfg.JWKSURL is set) and fetches it. It fails if either cannot be fetched,
// so a misconfigured resource server stops at start-up, not at its first
// request. ctx bounds these fetches only; later refreshes use the context of
// the request that triggers them.
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	jwksURL := cfg.JWKSURL
	if jwksURL == "" {
		if jwksURL, err = discoverJWKS(ctx, cfg.HTTPClient, cfg.Issuer); err != nil {
			return nil, err
		}
	}
	keys, err := newKeySet(ctx, jwksURL, cfg)
	if err != nil {
		return nil, err
	}
	return &Verifier{
		issuer:       cfg.Issuer,
		audience:     cfg.Audience,
		allowUnbound: cfg.AllowUnbound,
		leeway:       cfg.Leeway,
		now:          cfg.Now,
		realm:        cfg.Realm,
		proxy:        cfg.TrustedProxy,
		keys:         keys,
	}, nil
}

// Verify checks rawToken (the compact JWT, without "Bearer ") and its
// binding to peer, the client certificate of the TLS connection the token
// arrived on (nil if there was none), and returns its claims. The checks and
// their order are listed in the package documentation; the claims are
// decoded only after the signature verified. ctx bounds the JWKS fetch an
// unknown "kid" may trigger.
//
// Every error is an *Error with CodeInvalidToken, except an empty rawToken,
// which gives CodeUnauthorized and ErrNoToken. Verify does not check scopes;
// use Claims.HasScope or the middleware.
func (v *Verifier) Verify(ctx context.Context, rawToken string, peer *x509.Certificate) (*Claims, error) {
	w, e := v.verifySignature(ctx, rawToken)
	if e != nil {
		return nil, e
	}
	now := v.now()
	switch {
	case w.Iss != v.issuer:
		return nil, invalidToken(ErrIssuer, nil)
	case !slices.Contains(w.Aud, v.audience):
		return nil, invalidToken(ErrAudience, nil)
	case !w.Exp.set:
		return nil, missingClaim("exp")
	case !now.Before(w.Exp.time().Add(v.leeway)):
		return nil, invalidToken(ErrExpired, nil)
	case w.Nbf.set && now.Before(w.Nbf.time().Add(-v.leeway)):
		return nil, invalidToken(ErrNotYetValid, nil)
	case !w.Iat.set:
		return nil, missingClaim("iat")
	case now.Before(w.Iat.time().Add(-v.leeway)):
		return nil, invalidToken(ErrNotYetValid, nil)
	case w.Sub == "":
		return nil, missingClaim("sub")
	case w.ClientID == "":
		return nil, missingClaim("client_id")
	case w.Jti == "":
		return nil, missingClaim("jti")
	}
	scopes, err := w.scopes()
	if err != nil {
		return nil, invalidToken(ErrMalformed, err)
	}
	if e := v.checkBinding(w.Cnf, peer); e != nil {
		return nil, e
	}
	return &Claims{
		Issuer:     w.Iss,
		Subject:    w.Sub,
		ClientID:   w.ClientID,
		Audience:   w.Aud,
		Scopes:     scopes,
		IssuedAt:   w.Iat.time(),
		NotBefore:  w.Nbf.time(),
		Expiry:     w.Exp.time(),
		ID:         w.Jti,
		Thumbprint: w.Cnf.x5tS256,
	}, nil
}

// verifySignature checks the JOSE header, finds the key and verifies the
// signature with golang-jwt's signing method for the key's algorithm, then
// decodes the claims. Nothing of the payload is read before the signature
// verified.
func (v *Verifier) verifySignature(ctx context.Context, raw string) (*wireClaims, *Error) {
	switch {
	case raw == "":
		return nil, &Error{Code: CodeUnauthorized, Description: ErrNoToken.Error(), rule: ErrNoToken}
	case len(raw) > MaxTokenBytes:
		return nil, invalidToken(ErrMalformed, errors.New("token too long"))
	}
	jws, err := splitJWS(raw)
	if err != nil {
		return nil, invalidToken(ErrMalformed, err)
	}
	h, err := decodeHeader(jws.header)
	if err != nil {
		return nil, invalidToken(ErrMalformed, err)
	}
	if e := checkHeader(h); e != nil {
		return nil, e
	}
	k, e := v.keys.lookup(ctx, h.kid)
	if e != nil {
		return nil, e
	}
	// RFC 8725 §3.1: the key, not the token, decides the algorithm.
	if h.alg != k.method.Alg() {
		return nil, invalidToken(ErrAlgorithm, nil)
	}
	sig, err := b64.DecodeString(jws.signature)
	if err != nil {
		return nil, invalidToken(ErrMalformed, errMalformedJWS)
	}
	if err := k.method.Verify(jws.signingInput, sig, k.key); err != nil {
		return nil, invalidToken(ErrSignature, err)
	}
	payload, err := b64.DecodeString(jws.payload)
	if err != nil {
		return nil, invalidToken(ErrMalformed, errMalformedJWS)
	}
	w := new(wireClaims)
	if err := decodeClaims(payload, w); err != nil {
		return nil, invalidToken(ErrMalformed, err)
	}
	return w, nil
}

// checkHeader checks, before any key is looked up: "typ" (RFC 9068 §4 step
// 1), "alg" (RFC 9068 §2.1 and RFC 8725 §3.1: only ES256 and RS256; never
// "none" or HMAC), "crit" (RFC 7515 §4.1.11: no extension is understood, so
// any "crit" is refused) and "kid" (required).
func checkHeader(h header) *Error {
	switch {
	case !strings.EqualFold(h.typ, "at+jwt") && !strings.EqualFold(h.typ, "application/at+jwt"):
		return invalidToken(ErrType, nil)
	case h.alg != jwt.SigningMethodES256.Alg() && h.alg != jwt.SigningMethodRS256.Alg():
		return invalidToken(ErrAlgorithm, nil)
	case h.crit:
		return invalidToken(ErrMalformed, errors.New(`"crit" header`))
	case h.kid == "":
		return invalidToken(ErrNoKeyID, nil)
	}
	return nil
}

// checkBinding enforces RFC 8705 §3: "The protected resource MUST obtain,
// from its TLS implementation layer, the client certificate used for mutual
// TLS and MUST verify that the certificate matches the certificate associated
// with the access token." The TLS handshake proved that the caller holds the
// certificate's key; the thumbprint ties the token to that certificate. The
// chain is not checked (RFC 8705 §6.2).
func (v *Verifier) checkBinding(cnf confirmation, peer *x509.Certificate) *Error {
	switch {
	case !cnf.present:
		if v.allowUnbound {
			return nil
		}
		return invalidToken(ErrUnbound, nil)
	case cnf.other || cnf.x5tS256 == "":
		return invalidToken(ErrBindingMethod, nil)
	case peer == nil:
		return invalidToken(ErrCertificateRequired, nil)
	}
	// The value is compared as sent: a padded or otherwise re-encoded
	// thumbprint does not match (RFC 8705 §3.1).
	if subtle.ConstantTimeCompare([]byte(cnf.x5tS256), []byte(certs.X5tS256(peer.Raw))) != 1 {
		return invalidToken(ErrBindingMismatch, nil)
	}
	return nil
}

func missingClaim(name string) *Error {
	e := invalidToken(ErrMissingClaim, nil)
	e.Description += ": " + name
	return e
}
