package enrollclient

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/certbound/certbound/certs/servererror"
)

// Sentinel errors. Compare with errors.Is.
var (
	// ErrFingerprintMismatch: no root in the server's bundle has the pinned
	// fingerprint. The enrollment token was not sent.
	ErrFingerprintMismatch = errors.New("enrollclient: no server root matches the pinned fingerprint")
	// ErrInvalidFingerprint: the pinned fingerprint is not 64 hex digits
	// (colons allowed).
	ErrInvalidFingerprint = errors.New("enrollclient: fingerprint must be the hex SHA-256 of the root certificate")
	// ErrInvalidServerURL: the server URL is not an absolute https URL.
	ErrInvalidServerURL = errors.New("enrollclient: server must be an https URL")
	// ErrExists: Enroll would overwrite an identity and Options.Overwrite is false.
	ErrExists = errors.New("enrollclient: the directory already holds an identity")
	// ErrKeyMismatch: key.pem (and key.pem.next) do not match cert.pem.
	ErrKeyMismatch = errors.New("enrollclient: private key does not match the certificate")
	// ErrInsecureKeyFile: key.pem is accessible to group or others.
	ErrInsecureKeyFile = errors.New("enrollclient: private key file is not private")
	// ErrMalformedKey: key.pem does not hold exactly one unencrypted
	// PKCS#8 or SEC 1 private key.
	ErrMalformedKey = errors.New("enrollclient: malformed private key file")
	// ErrUntrustedChain: cert.pem does not chain to ca.pem for client
	// authentication, or a server answered with a certificate that does not
	// chain to the pinned root.
	ErrUntrustedChain = errors.New("enrollclient: certificate does not chain to the pinned root")
	// ErrServerIDMismatch: a server called through ClientTLSConfigFor or
	// HTTPClientFor holds a certificate of the pinned CA with another SPIFFE
	// ID than the one expected. Nothing was sent to it.
	ErrServerIDMismatch = errors.New("enrollclient: the server's SPIFFE ID is not the expected one")
	// ErrBadResponse: the server answered 2xx with something this package
	// cannot use (malformed JSON or PEM, a certificate for another key or
	// another identity, an expired certificate).
	ErrBadResponse = errors.New("enrollclient: unusable server response")
	// ErrExpired: the certificate has expired, so it cannot authenticate a
	// renewal; enroll again with a new token.
	ErrExpired = errors.New("enrollclient: certificate has expired")
	// ErrRunning: Renewer.Run was called while another Run is active.
	ErrRunning = errors.New("enrollclient: renewer is already running")
)

// ServerError is a refusal by the certbound server: a non-2xx response,
// decoded from the JSON error body {"error", "error_description"} (SPEC §5).
// Code and Description are empty when the body was not such JSON.
type ServerError struct {
	Status      int    // HTTP status, e.g. 401
	Code        string // SPEC §5 error code, e.g. "invalid_token"
	Description string // human text from the server, sanitised to printable ASCII
	// RetryAfter is the wait the server asked for with Retry-After (on 429
	// and 503), zero when it sent none.
	RetryAfter time.Duration
}

func (e *ServerError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "enrollclient: server refused: %d", e.Status)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Description != "" {
		b.WriteString(": " + e.Description)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

// maxErrorBody bounds how much of an error response is read.
const maxErrorBody = servererror.MaxBody

// decodeServerError builds the *ServerError for a non-2xx response. body is
// what was read of it; now is used for an HTTP-date Retry-After.
func decodeServerError(status int, header http.Header, body []byte, now time.Time) *ServerError {
	r := servererror.Decode(status, header, body, now)
	return &ServerError{Status: r.Status, Code: r.Code, Description: r.Description, RetryAfter: r.RetryAfter}
}

// sanitize keeps printable ASCII only and truncates (servererror.Sanitize).
func sanitize(s string, limit int) string { return servererror.Sanitize(s, limit) }
