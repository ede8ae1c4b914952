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
	parser       *jwt.Parser   // immutable; safe for concurrent use
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
		parser: jwt.NewParser(
			// The key pins the algorithm (see keyFor); this list only keeps
			// "none" and HMAC away from the key lookup.
			jwt.WithValidMethods([]string{jwt.SigningMethodES256.Alg(), jwt.SigningMethodRS256.Alg()}),
			jwt.WithStrictDecoding(),
			// Claims are checked by Verify, one sentinel per rule.
			jwt.WithoutClaimsValidation(),
		),
	}, nil
}

// Verify checks rawToken (the compact JWT, without "Bearer ") and its
// binding to peer, the client certificate of the TLS connection the token
// arrived on (nil if there was none), and returns its claims. The checks and
// their order are listed in the package documentation. ctx bounds the JWKS
// fetch an unknown "kid" may trigger.
//
// Every error is an *Error with CodeInvalidToken, except an empty rawToken,
// which gives CodeUnauthorized and ErrNoToken. Verify does not check scopes;
// use Claims.HasScope or the middleware.
func (v *Verifier) Verify(ctx context.Context, rawToken string, peer *x509.Certificate) (*Claims, error) {
	if rawToken == "" {
		return nil, &Error{Code: CodeUnauthorized, Description: ErrNoToken.Error(), rule: ErrNoToken}
	}
	if len(rawToken) > MaxTokenBytes {
		return nil, invalidToken(ErrMalformed, nil)
	}
	var w wireClaims
	kf := keyFunc{ctx: ctx, keys: v.keys}
	if _, err := v.parser.ParseWithClaims(rawToken, &w, kf.key); err != nil {
		return nil, kf.classify(err)
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
	if err := v.checkBinding(w.Cnf, peer); err != nil {
		return nil, err
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

// keyFunc finds the verification key for one token and remembers why it
// refused one, so that classify can name the rule.
type keyFunc struct {
	ctx    context.Context
	keys   *keySet
	called bool   // the parser got as far as the key lookup
	err    *Error // the refusal of key, if any
}

// key implements jwt.Keyfunc. It runs after the header and claims decoded and
// "alg" passed jwt.WithValidMethods, and before any signature is computed.
func (kf *keyFunc) key(t *jwt.Token) (any, error) {
	kf.called = true
	kf.err = checkHeader(t.Header)
	if kf.err != nil {
		return nil, kf.err
	}
	kid, _ := t.Header["kid"].(string)
	k, err := kf.keys.lookup(kf.ctx, kid)
	if err != nil {
		kf.err = err
		return nil, err
	}
	// RFC 8725 §3.1: the key, not the token, decides the algorithm.
	if t.Method != k.method {
		kf.err = invalidToken(ErrAlgorithm, nil)
		return nil, kf.err
	}
	return k.key, nil
}

// checkHeader checks "typ" (RFC 9068 §4 step 1), "crit" (RFC 7515 §4.1.11:
// no extension is understood, so any "crit" is refused) and "kid".
func checkHeader(h map[string]any) *Error {
	typ, _ := h["typ"].(string)
	if !strings.EqualFold(typ, "at+jwt") && !strings.EqualFold(typ, "application/at+jwt") {
		return invalidToken(ErrType, nil)
	}
	if _, ok := h["crit"]; ok {
		return invalidToken(ErrMalformed, errors.New(`"crit" header`))
	}
	if kid, _ := h["kid"].(string); kid == "" {
		return invalidToken(ErrNoKeyID, nil)
	}
	return nil
}

// classify turns a parser error into the *Error of the rule it broke.
func (kf *keyFunc) classify(err error) *Error {
	switch {
	case kf.err != nil:
		return kf.err
	case errors.Is(err, jwt.ErrTokenMalformed):
		return invalidToken(ErrMalformed, err)
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		// "alg" missing or unknown to the library.
		return invalidToken(ErrAlgorithm, err)
	case errors.Is(err, jwt.ErrTokenSignatureInvalid) && !kf.called:
		// "alg" not in WithValidMethods: none, HS256 and the like.
		return invalidToken(ErrAlgorithm, err)
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return invalidToken(ErrSignature, err)
	}
	return invalidToken(ErrMalformed, err)
}
