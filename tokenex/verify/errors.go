package verify

import (
	"errors"
	"net/http"
)

// Error codes of the Bearer challenge and the JSON error body (RFC 6750 §3.1).
const (
	// CodeInvalidRequest: the request is malformed (two Authorization
	// headers, a token in the URL, a broken proxy certificate header). 400.
	CodeInvalidRequest = "invalid_request"
	// CodeInvalidToken: the token is malformed, expired, not for this
	// server, or its certificate binding does not hold. 401.
	CodeInvalidToken = "invalid_token"
	// CodeInsufficientScope: the token is valid but lacks a scope. 403.
	CodeInsufficientScope = "insufficient_scope"
	// CodeUnauthorized: the request carries no bearer token at all. 401 with a
	// bare challenge: RFC 6750 §3.1 says such a response SHOULD NOT carry an
	// error code, so the code appears only in the JSON body (SPEC §5).
	CodeUnauthorized = "unauthorized"
)

// Sentinel errors, one per rule. An *Error from Verify or Authorize wraps
// exactly one of them; compare with errors.Is. The messages are the
// descriptions sent to callers, so they never quote the token; they also stay
// within the characters RFC 6750 §3 allows in error_description.
var (
	// ErrNoToken: no bearer token (CodeUnauthorized).
	ErrNoToken = errors.New("a bearer access token is required")
	// ErrInvalidRequest: the request is malformed (CodeInvalidRequest).
	ErrInvalidRequest = errors.New("the request is malformed")

	// ErrMalformed: not a compact JWS, bad base64 or JSON, wrong claim types,
	// a "crit" header, or "scope" and "scp" that disagree.
	ErrMalformed = errors.New("the access token is malformed")
	// ErrType: "typ" is not at+jwt (RFC 9068 §4 step 1).
	ErrType = errors.New("the token is not a JWT access token, typ must be at+jwt")
	// ErrNoKeyID: the header has no "kid".
	ErrNoKeyID = errors.New("the access token names no signing key")
	// ErrUnknownKey: "kid" is not in the issuer's JWKS, even after a refresh.
	ErrUnknownKey = errors.New("the access token was signed by an unknown key")
	// ErrAlgorithm: "alg" is none, HMAC, unsupported, or not the one its key
	// is pinned to.
	ErrAlgorithm = errors.New("the access token signing algorithm is not accepted")
	// ErrSignature: the signature does not verify.
	ErrSignature = errors.New("the access token signature is invalid")
	// ErrIssuer: "iss" is not the configured issuer (RFC 9068 §4 step 2).
	ErrIssuer = errors.New("the access token was issued by another issuer")
	// ErrAudience: "aud" does not contain this server (RFC 9068 §4 step 3).
	ErrAudience = errors.New("the access token is not meant for this resource server")
	// ErrExpired: "exp" has passed, leeway included.
	ErrExpired = errors.New("the access token expired")
	// ErrNotYetValid: "nbf" or "iat" is in the future, leeway included.
	ErrNotYetValid = errors.New("the access token is not valid yet")
	// ErrMissingClaim: one of iat, exp, sub, client_id, jti is absent.
	ErrMissingClaim = errors.New("the access token lacks a required claim")
	// ErrUnbound: no "cnf" and Config.AllowUnbound is false.
	ErrUnbound = errors.New("the access token is not bound to a client certificate")
	// ErrBindingMethod: "cnf" holds a confirmation method other than x5t#S256.
	ErrBindingMethod = errors.New("the access token uses an unsupported confirmation method")
	// ErrCertificateRequired: the token is bound but the connection carries
	// no client certificate (RFC 8705 §3).
	ErrCertificateRequired = errors.New("the access token is bound to a client certificate but none was presented")
	// ErrBindingMismatch: the client certificate is not the one the token is
	// bound to, e.g. a token replayed from another client or kept across a
	// certificate renewal (RFC 8705 §3, §6.3).
	ErrBindingMismatch = errors.New("the client certificate does not match the access token")

	// ErrInsufficientScope: the token lacks a scope the route requires
	// (CodeInsufficientScope).
	ErrInsufficientScope = errors.New("the access token lacks a required scope")
)

// Errors of New. They are for the operator, not for callers.
var (
	// ErrConfig: Config is incomplete or inconsistent.
	ErrConfig = errors.New("verify: invalid configuration")
	// ErrMetadata: the RFC 8414 metadata could not be fetched, does not parse,
	// or names another issuer.
	ErrMetadata = errors.New("verify: authorization server metadata")
	// ErrJWKS: the JWKS could not be fetched, does not parse, or holds no
	// usable key.
	ErrJWKS = errors.New("verify: JWKS")
)

// Error is a refusal from Verify or Authorize. Code and Description go to the
// caller in the challenge and the JSON body; the wrapped sentinel (and, for
// logs, the underlying cause) is reached with errors.Is and errors.As.
type Error struct {
	// Code is one of the Code constants.
	Code string
	// Description is human text safe to send to the caller: it never holds the
	// token, a key or an internal error.
	Description string
	// Scope is, for CodeInsufficientScope, the space-separated scopes the
	// request needed (the challenge's "scope" attribute); otherwise empty.
	Scope string

	rule  error // the sentinel; never nil
	cause error // what went wrong underneath, for logs; may be nil
}

// Error returns code, description and cause, for logs. Send Description, not
// Error(), to callers.
func (e *Error) Error() string {
	s := "verify: " + e.Code + ": " + e.Description
	if e.cause != nil {
		s += ": " + e.cause.Error()
	}
	return s
}

// Unwrap returns the sentinel and, if any, the underlying cause.
func (e *Error) Unwrap() []error {
	errs := make([]error, 0, 2)
	for _, err := range []error{e.rule, e.cause} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// status maps an error code to its HTTP status (RFC 6750 §3.1).
func (e *Error) status() int {
	switch e.Code {
	case CodeInvalidRequest:
		return http.StatusBadRequest
	case CodeInsufficientScope:
		return http.StatusForbidden
	default:
		return http.StatusUnauthorized
	}
}

// invalidToken returns the *Error for a token that breaks rule.
func invalidToken(rule, cause error) *Error {
	return &Error{Code: CodeInvalidToken, Description: rule.Error(), rule: rule, cause: cause}
}

// invalidRequest returns the *Error for a malformed request; description
// says what is wrong with it.
func invalidRequest(description string) *Error {
	return &Error{Code: CodeInvalidRequest, Description: description, rule: ErrInvalidRequest}
}
