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
	// ErrCertificateNotFound: no certificate has that serial.
	ErrCertificateNotFound = errors.New("certificate not found")
)

// NameError names the refused name. It wraps ErrNameNotAllowed.
type NameError struct{ Name string }

func (e *NameError) Error() string {
	return fmt.Sprintf("name %q is not allowed for this client", e.Name)
}
func (e *NameError) Unwrap() error { return ErrNameNotAllowed }
