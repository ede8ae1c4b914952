package enroll

import (
	"errors"
	"fmt"
)

var (
	// ErrTokenInvalid: the enrollment token is unknown, expired or used. The
	// three are deliberately indistinguishable to the caller.
	ErrTokenInvalid = errors.New("enrollment token is invalid, expired or already used")
	// ErrNameNotAllowed: the CSR asks for a name the token (or, on renewal,
	// the current certificate) does not allow.
	ErrNameNotAllowed = errors.New("requested name is not allowed")
	// ErrBadCSR: the CSR is malformed, badly signed or has a refused key.
	ErrBadCSR = errors.New("invalid certificate signing request")
	// ErrClientDisabled: the client the token or certificate belongs to is disabled.
	ErrClientDisabled = errors.New("client is disabled")
	// ErrAlreadyRenewed: the presented certificate was renewed before. The
	// holder of the newer certificate may not be the one presenting this one.
	ErrAlreadyRenewed = errors.New("certificate was already renewed")
	// ErrRevoked: the presented certificate is revoked.
	ErrRevoked = errors.New("certificate is revoked")
	// ErrInvalidRequest: a request parameter is out of range.
	ErrInvalidRequest = errors.New("invalid request")
	// ErrNotFound: the client does not exist.
	ErrNotFound = errors.New("client not found")
	// ErrReservedName: a DNS name is one of certbound's own server names
	// (Config.ReservedDNSNames), which no service certificate may carry.
	ErrReservedName = errors.New("name is reserved for certbound's own server")
	// ErrCertificateNotFound: no certificate has that serial.
	ErrCertificateNotFound = errors.New("certificate not found")
)

// NameError names the refused name. It wraps ErrNameNotAllowed.
type NameError struct{ Name string }

func (e *NameError) Error() string {
	return fmt.Sprintf("name %q is not allowed for this client", e.Name)
}
func (e *NameError) Unwrap() error { return ErrNameNotAllowed }

// ReservedNameError names a requested DNS name that is one of certbound's own
// server names. It wraps ErrReservedName; MintToken wraps it in
// ErrInvalidRequest too (the request is wrong), Enroll and Renew return it
// alone (the token or certificate allows a name the server has reserved since).
type ReservedNameError struct{ Name string }

func (e *ReservedNameError) Error() string {
	return fmt.Sprintf("%s is certbound's own server name (serve --dns); a service certificate may not carry it", e.Name)
}
func (e *ReservedNameError) Unwrap() error { return ErrReservedName }

// TokenRefusal is an enrollment refused for its token. It wraps
// ErrTokenInvalid, so the caller's answer is the same whatever the Reason;
// Reason (token_unknown, token_used, token_expired, or token_invalid when
// the token could not be read again) is for the log and the audit trail,
// where telling a replay from an expiry matters. It holds no secret.
type TokenRefusal struct{ Reason string }

func (e *TokenRefusal) Error() string { return ErrTokenInvalid.Error() + " (" + e.Reason + ")" }

func (e *TokenRefusal) Unwrap() error { return ErrTokenInvalid }
