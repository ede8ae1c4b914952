package tokenex

import "errors"

// OAuth error codes (RFC 6749 §5.2, RFC 8707 §2, RFC 7591 §3.2.2). Error.Code
// is always one of these.
const (
	CodeInvalidRequest        = "invalid_request"
	CodeInvalidClient         = "invalid_client"
	CodeInvalidGrant          = "invalid_grant"
	CodeUnauthorizedClient    = "unauthorized_client"
	CodeUnsupportedGrantType  = "unsupported_grant_type"
	CodeInvalidScope          = "invalid_scope"
	CodeInvalidTarget         = "invalid_target"          // RFC 8707
	CodeInvalidClientMetadata = "invalid_client_metadata" // RFC 7591, registry only
)

// Error is a refusal the caller caused: an OAuth error response (RFC 6749
// §5.2) for the token and introspection endpoints, or invalid_client_metadata
// for the registry. Any error from this package that is not an *Error (nor
// ErrNotFound or ErrConflict) is a server fault: answer 500 and log it.
//
// Compare with errors.Is against the sentinels below, which match on Code:
//
//	errors.Is(err, tokenex.ErrInvalidClient)
type Error struct {
	// Code is exactly one of the Code* constants.
	Code string
	// Description is safe to send as error_description: it never quotes the
	// request, and stays within RFC 6749 §5.2's character set (printable
	// ASCII without '"' and '\'). Every invalid_client carries the same text
	// (STYLE C6), so a caller cannot tell an unknown client from a bad secret.
	Description string
	// Reason says, for the log only, why the request was refused. It is a
	// fixed enum, never a secret. Empty for registry errors.
	Reason Reason

	err error // the cause, for the log (a ca sentinel, say); may be nil
}

func (e *Error) Error() string {
	msg := "tokenex: " + e.Code
	if e.Description != "" {
		msg += ": " + e.Description
	}
	if e.Reason != "" {
		msg += " (" + string(e.Reason) + ")"
	}
	return msg
}

// Is makes errors.Is(err, ErrInvalidScope) and the like match any *Error
// with the same Code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Unwrap returns the cause, if any (for example ca.ErrRevoked).
func (e *Error) Unwrap() error { return e.err }

// Sentinels for errors.Is. Do not return them directly; they carry no
// description.
var (
	ErrInvalidRequest        = &Error{Code: CodeInvalidRequest}
	ErrInvalidClient         = &Error{Code: CodeInvalidClient}
	ErrInvalidGrant          = &Error{Code: CodeInvalidGrant}
	ErrUnauthorizedClient    = &Error{Code: CodeUnauthorizedClient}
	ErrUnsupportedGrantType  = &Error{Code: CodeUnsupportedGrantType}
	ErrInvalidScope          = &Error{Code: CodeInvalidScope}
	ErrInvalidTarget         = &Error{Code: CodeInvalidTarget}
	ErrInvalidClientMetadata = &Error{Code: CodeInvalidClientMetadata}
)

// Registry sentinels.
var (
	// ErrNotFound: no client with that id (404).
	ErrNotFound = errors.New("tokenex: client not found")
	// ErrConflict: a client with that id already exists (409).
	ErrConflict = errors.New("tokenex: client already exists")
)

// ErrKeyPassword: a stored signing key is encrypted and Config.KeyPassword
// is missing or does not decrypt it.
var ErrKeyPassword = errors.New("tokenex: signing key encrypted; passphrase missing or wrong")

// Reason is a non-secret log label saying why a request was refused.
type Reason string

// Reasons for invalid_client. The caller sees one description for all of
// them; the log sees which.
const (
	ReasonMissingClientID   Reason = "missing_client_id"
	ReasonUnknownClient     Reason = "unknown_client"
	ReasonClientDisabled    Reason = "client_disabled"
	ReasonWrongMethod       Reason = "wrong_auth_method"    // credentials of another method than the registered one
	ReasonNoCredentials     Reason = "no_credentials"       // a secret client sent no secret
	ReasonBadSecret         Reason = "bad_secret"           // secret does not match
	ReasonNoCertificate     Reason = "no_certificate"       // mTLS client, no certificate on the connection
	ReasonUntrusted         Reason = "untrusted_cert"       // does not chain to the root, wrong usage, CA cert
	ReasonCertExpired       Reason = "cert_expired"         // outside its validity period
	ReasonCertIdentity      Reason = "cert_identity"        // not a SPIFFE ID of this trust domain
	ReasonSANMismatch       Reason = "san_mismatch"         // verified, but not tls_client_auth_san_uri
	ReasonCertRevoked       Reason = "cert_revoked"         // the certificate's serial is revoked
	ReasonCertUnregistered  Reason = "cert_unregistered"    // self-signed: thumbprint not registered
	ReasonCertClientUnknown Reason = "cert_client_unknown"  // the certificate names a client that does not exist
	ReasonCertClientOff     Reason = "cert_client_disabled" // the certificate names a disabled client
)

// Reasons for the other codes.
const (
	ReasonTwoMethods        Reason = "two_auth_methods" // RFC 6749 §2.3
	ReasonClientIDMismatch  Reason = "client_id_mismatch"
	ReasonMissingGrantType  Reason = "missing_grant_type"
	ReasonGrantNotAllowed   Reason = "grant_not_allowed"
	ReasonScopeSyntax       Reason = "scope_syntax"
	ReasonScopeNotAllowed   Reason = "scope_not_allowed"
	ReasonScopeEmpty        Reason = "scope_empty"
	ReasonResourceSyntax    Reason = "resource_syntax"
	ReasonTargetNotAllowed  Reason = "target_not_allowed"
	ReasonTargetConflict    Reason = "target_conflict"
	ReasonNoDefaultAudience Reason = "no_audience"
)

// descClient is the one description of every invalid_client (STYLE C6).
const descClient = "client authentication failed"

func clientError(r Reason, cause error) *Error {
	return &Error{Code: CodeInvalidClient, Description: descClient, Reason: r, err: cause}
}

func oauthError(code string, r Reason, desc string) *Error {
	return &Error{Code: code, Description: desc, Reason: r}
}

func metadataError(desc string) *Error {
	return &Error{Code: CodeInvalidClientMetadata, Description: desc}
}

func metadataErrorCause(desc string, cause error) *Error {
	return &Error{Code: CodeInvalidClientMetadata, Description: desc, err: cause}
}
