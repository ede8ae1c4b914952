package ca

import "errors"

// Sentinel errors. Everything VerifyClient refuses wraps exactly one of
// ErrNoClientCert, ErrUntrusted, ErrIdentity, ErrRevoked, ErrClientDisabled or
// ErrUnknownClient; any other error from it is a failure of the StatusSource
// (a server error, not a verdict on the certificate).
var (
	// ErrExists: Bootstrap found CA files in the directory and left them alone.
	ErrExists = errors.New("ca: a CA already exists in this directory")
	// ErrPassword: intermediate.key is encrypted and the password is missing or wrong.
	ErrPassword = errors.New("ca: intermediate key is encrypted; password missing or wrong")
	// ErrInconsistent: the CA files do not fit together (the intermediate is
	// not a CA signed by the root, its key does not match, or it has expired).
	ErrInconsistent = errors.New("ca: CA files are inconsistent")

	// ErrNoClientCert: the peer presented no certificate.
	ErrNoClientCert = errors.New("ca: no client certificate")
	// ErrUntrusted: the certificate does not chain to this CA's root, lacks the
	// clientAuth usage, is a CA certificate, or is outside its validity period.
	ErrUntrusted = errors.New("ca: client certificate not trusted")
	// ErrExpired: the certificate (or its issuer) is expired or not yet valid.
	// It always comes together with ErrUntrusted; errors.Is matches both.
	ErrExpired = errors.New("ca: certificate expired or not yet valid")
	// ErrIdentity: the certificate breaks the SPIFFE SAN rules: not exactly one
	// URI SAN, not a SPIFFE ID with a valid client id, or another trust domain.
	ErrIdentity = errors.New("ca: client certificate does not name a client of this trust domain")
	// ErrRevoked: the certificate's serial has been revoked.
	ErrRevoked = errors.New("ca: client certificate revoked")
	// ErrClientDisabled: the client named by the certificate is disabled.
	ErrClientDisabled = errors.New("ca: client disabled")
	// ErrUnknownClient: the client named by the certificate does not exist
	// (any more). StatusSource implementations return an error wrapping it.
	ErrUnknownClient = errors.New("ca: unknown client")
)

// PolicyError reports a LeafRequest (or server certificate request) that the
// issuance profile refuses. It is the caller's fault, never the CA's: map it to
// 400. Unwrap returns the underlying cause when there is one (for example
// certs.ErrUnsupportedKey or certs.ErrInvalidID).
type PolicyError struct {
	Field  string // "client_id", "public_key", "dns_names", "lifetime" or "names"
	Reason string // safe to show to the requester
	Err    error  // may be nil
}

func (e *PolicyError) Error() string {
	return "ca: request refused: " + e.Field + ": " + e.Reason
}

// Unwrap returns the underlying cause, or nil.
func (e *PolicyError) Unwrap() error { return e.Err }
