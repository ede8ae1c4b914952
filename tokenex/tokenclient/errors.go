package tokenclient

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/certbound/certbound/certs/servererror"
)

// Sentinels for the error codes of RFC 6749 §5.2 and RFC 8707 §2. An *Error
// with that code matches with errors.Is.
var (
	ErrInvalidRequest       = errors.New("tokenclient: invalid_request")
	ErrInvalidClient        = errors.New("tokenclient: invalid_client")
	ErrInvalidGrant         = errors.New("tokenclient: invalid_grant")
	ErrUnauthorizedClient   = errors.New("tokenclient: unauthorized_client")
	ErrUnsupportedGrantType = errors.New("tokenclient: unsupported_grant_type")
	ErrInvalidScope         = errors.New("tokenclient: invalid_scope")
	ErrInvalidTarget        = errors.New("tokenclient: invalid_target")
)

// Other sentinel errors.
var (
	// ErrBadResponse: a 200 response without a usable token (malformed JSON,
	// no access_token, a non-positive expires_in).
	ErrBadResponse = errors.New("tokenclient: unusable token response")
	// ErrUnsupportedTokenType: the server issued a token that is not a
	// Bearer token (a DPoP token, say), which this package cannot send.
	ErrUnsupportedTokenType = errors.New("tokenclient: token_type is not Bearer")
)

// Error is an error response from the token endpoint (RFC 6749 §5.2). Code
// and Description are empty when the body was not the JSON the RFC
// describes (a proxy's HTML page, say).
type Error struct {
	Status      int    // HTTP status, e.g. 401
	Code        string // "error", e.g. "invalid_client"
	Description string // "error_description", sanitised to printable ASCII
	URI         string // "error_uri"
	// RetryAfter is the wait the server asked for with Retry-After (429,
	// 503), zero when it sent none. The Source makes no request before it
	// has passed.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "tokenclient: token endpoint refused: %d", e.Status)
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

// Unwrap returns the sentinel for Code (ErrInvalidClient for
// "invalid_client", …), or nil for a code RFC 6749 and RFC 8707 do not define.
func (e *Error) Unwrap() error {
	switch e.Code {
	case "invalid_request":
		return ErrInvalidRequest
	case "invalid_client":
		return ErrInvalidClient
	case "invalid_grant":
		return ErrInvalidGrant
	case "unauthorized_client":
		return ErrUnauthorizedClient
	case "unsupported_grant_type":
		return ErrUnsupportedGrantType
	case "invalid_scope":
		return ErrInvalidScope
	case "invalid_target":
		return ErrInvalidTarget
	}
	return nil
}

// maxErrorBody bounds how much of an error response is read.
const maxErrorBody = servererror.MaxBody

// decodeError builds the *Error for a non-200 response.
func decodeError(status int, header http.Header, body []byte, now time.Time) *Error {
	r := servererror.Decode(status, header, body, now)
	return &Error{Status: r.Status, Code: r.Code, Description: r.Description, URI: r.URI, RetryAfter: r.RetryAfter}
}

// sanitize keeps printable ASCII only and truncates (servererror.Sanitize).
func sanitize(s string, limit int) string { return servererror.Sanitize(s, limit) }
