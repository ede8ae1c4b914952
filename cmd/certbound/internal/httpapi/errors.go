package httpapi

import (
	"cmp"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/certbound/certbound/ca"
	"github.com/certbound/certbound/certs"
	"github.com/certbound/certbound/enroll"
	"github.com/certbound/certbound/storage"
	"github.com/certbound/certbound/tokenex"
)

// Error codes of SPEC §5 that are not OAuth codes.
const (
	codeInvalidRequest       = "invalid_request"
	codeInvalidToken         = "invalid_token"
	codeUnauthorized         = "unauthorized"
	codeAccessDenied         = "access_denied"
	codeNotFound             = "not_found"
	codeMethodNotAllowed     = "method_not_allowed"
	codeConflict             = "conflict"
	codeTooLarge             = "request_too_large"
	codeUnsupportedMediaType = "unsupported_media_type"
	codeTooManyRequests      = "too_many_requests"
	codeServerError          = "server_error"
	codeUnavailable          = "unavailable" // SPEC §13: the database cannot be reached
	// codeTemporarilyUnavailable is codeUnavailable on the OAuth endpoints.
	// RFC 6749 §5.2 (token endpoint errors) has no code for an outage; §4.1.2.1
	// defines temporarily_unavailable for the authorization endpoint, and it
	// is the one registered OAuth code that says "retry later", so the token,
	// introspection and seed token endpoints use it.
	codeTemporarilyUnavailable = "temporarily_unavailable"
)

// Challenges for the 401s (RFC 9110 §11.6.1: every 401 carries one).
const (
	challengeAdmin  = `Bearer realm="certbound-admin"`
	challengeEnroll = `Bearer realm="certbound-enroll", error="invalid_token"`
	challengeMTLS   = `MutualTLS realm="certbound"`
)

// apiError is a response-ready error. Description is sent to the caller and
// must hold nothing secret; Reason goes to the log only.
type apiError struct {
	Status      int
	Code        string
	Description string
	Challenge   string
	Reason      string
	RetryAfter  time.Duration // > 0: sent as Retry-After (429, 503)
}

func (e *apiError) Error() string { return e.Code + ": " + e.Description }

// errorBody is the JSON shape of every error (SPEC §5).
type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// classify is THE table from errors to HTTP responses. Anything it does not
// know is a 500 that reveals nothing.
func classify(err error) *apiError {
	var ae *apiError
	var he *echo.HTTPError
	var nameErr *enroll.NameError
	var reserved *enroll.ReservedNameError
	var oauthErr *tokenex.Error
	var policyErr *ca.PolicyError
	var limited *RateLimitError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, storage.ErrUnavailable):
		// Before every verdict below: whatever a refusal wraps, an outage
		// is not the caller's fault and retrying may succeed (SPEC §13).
		return &apiError{Status: 503, Code: codeUnavailable, Description: "the database is unavailable; retry shortly",
			Reason: "database_unavailable", RetryAfter: time.Second}
	case errors.As(err, &limited):
		return tooManyRequests(limited.RetryAfter)
	case errors.As(err, &oauthErr):
		return fromOAuth(oauthErr)
	case errors.Is(err, tokenex.ErrNotFound):
		return &apiError{Status: 404, Code: codeNotFound, Description: "client not found", Reason: "client_not_found"}
	case errors.Is(err, tokenex.ErrConflict):
		return &apiError{Status: 409, Code: codeConflict, Description: "a client with this id already exists", Reason: "client_exists"}

	// Enrollment and renewal.
	case errors.Is(err, enroll.ErrTokenInvalid):
		// One answer for unknown, used and expired tokens (STYLE C6); the
		// reason, for the log and the audit trail, tells them apart.
		reason := "token_invalid"
		if r := (*enroll.TokenRefusal)(nil); errors.As(err, &r) {
			reason = r.Reason
		}
		return &apiError{Status: 401, Code: codeInvalidToken, Description: "enrollment token is invalid, expired or already used", Challenge: challengeEnroll, Reason: reason}
	case errors.As(err, &reserved):
		// 400 when minting (the request is wrong), 403 at enrollment or
		// renewal (the token or certificate predates the reservation).
		if errors.Is(err, enroll.ErrInvalidRequest) {
			return &apiError{Status: 400, Code: codeInvalidRequest, Description: reserved.Error()}
		}
		return &apiError{Status: 403, Code: codeAccessDenied, Description: reserved.Error(), Reason: "reserved_name"}
	case errors.As(err, &nameErr):
		return &apiError{Status: 403, Code: codeAccessDenied, Description: nameErr.Error(), Reason: "dns_not_allowed"}
	case errors.Is(err, enroll.ErrBadCSR):
		return &apiError{Status: 400, Code: codeInvalidRequest, Description: err.Error(), Reason: "bad_csr"}
	case errors.Is(err, enroll.ErrClientDisabled):
		return &apiError{Status: 403, Code: codeAccessDenied, Description: "client is disabled", Reason: "client_disabled"}
	case errors.Is(err, enroll.ErrAlreadyRenewed):
		return &apiError{Status: 403, Code: codeAccessDenied, Description: "this certificate was already renewed; use the newest one", Reason: "possible_clone"}
	case errors.Is(err, enroll.ErrRevoked):
		return &apiError{Status: 401, Code: codeUnauthorized, Description: "client certificate is not acceptable", Challenge: challengeMTLS, Reason: "revoked"}
	case errors.Is(err, enroll.ErrInvalidRequest):
		return &apiError{Status: 400, Code: codeInvalidRequest, Description: err.Error(), Reason: "bad_request"}
	case errors.Is(err, enroll.ErrNotFound):
		return &apiError{Status: 404, Code: codeNotFound, Description: "client not found", Reason: "client_not_found"}
	case errors.Is(err, enroll.ErrCertificateNotFound):
		return &apiError{Status: 404, Code: codeNotFound, Description: "certificate not found", Reason: "certificate_not_found"}

	// The TLS peer (ca.VerifyClient): one answer for every refusal, the
	// reason to the log only.
	case errors.Is(err, ca.ErrNoClientCert):
		return &apiError{Status: 401, Code: codeUnauthorized, Description: "a client certificate is required", Challenge: challengeMTLS, Reason: "no_client_certificate"}
	case errors.Is(err, ca.ErrUntrusted), errors.Is(err, ca.ErrIdentity), errors.Is(err, ca.ErrRevoked),
		errors.Is(err, ca.ErrClientDisabled), errors.Is(err, ca.ErrUnknownClient):
		return &apiError{Status: 401, Code: codeUnauthorized, Description: "client certificate is not acceptable", Challenge: challengeMTLS, Reason: peerReason(err)}

	case errors.As(err, &policyErr):
		// The profile refused what the request asked for; its Reason is
		// written to be shown.
		return &apiError{Status: 400, Code: codeInvalidRequest, Description: policyErr.Field + ": " + policyErr.Reason, Reason: "policy_refused"}
	case errors.Is(err, certs.ErrInvalidID):
		return &apiError{Status: 400, Code: codeInvalidRequest, Description: err.Error(), Reason: "invalid_client_id"}
	// Admin keys (SPEC §14), before the generic storage rows they wrap.
	case errors.Is(err, storage.ErrAdminKeyNotFound):
		return &apiError{Status: 404, Code: codeNotFound, Description: "admin key not found", Reason: "unknown_admin_key"}
	case errors.Is(err, storage.ErrAdminKeyExists):
		return &apiError{Status: 409, Code: codeConflict, Description: "an admin key with this name already exists (a revoked key keeps its name)", Reason: "name_taken"}
	case errors.Is(err, storage.ErrAdminKeyRevoked):
		return &apiError{Status: 409, Code: codeConflict, Description: "this admin key is already revoked", Reason: "already_revoked"}
	case errors.Is(err, storage.ErrLastAdminKey):
		return &apiError{Status: 409, Code: codeConflict, Description: "this is the last valid admin key: create another one before revoking it", Reason: "last_admin_key"}
	case errors.Is(err, storage.ErrNotFound):
		return &apiError{Status: 404, Code: codeNotFound, Description: "not found", Reason: "not_found"}
	case errors.Is(err, storage.ErrConflict):
		return &apiError{Status: 409, Code: codeConflict, Description: "already exists", Reason: "conflict"}

	case errors.As(err, &he):
		return fromEcho(he)
	}
	return &apiError{Status: 500, Code: codeServerError, Description: "internal error", Reason: "internal"}
}

// oauthRoutes are the routes whose errors are RFC 6749 §5.2 responses.
var oauthRoutes = map[string]bool{"/oauth2/token": true, "/oauth2/introspect": true, "/auth/oauth/token": true}

// challengeClient is the challenge of a failed OAuth client authentication
// (RFC 6749 §5.2: 401 with WWW-Authenticate for the scheme the client used).
const challengeClient = `Basic realm="certbound"`

// fromOAuth maps an RFC 6749 §5.2 error: invalid_client is 401 with a
// challenge, everything else 400.
func fromOAuth(e *tokenex.Error) *apiError {
	ae := &apiError{Status: 400, Code: e.Code, Description: e.Description, Reason: string(e.Reason)}
	if e.Code == tokenex.CodeInvalidClient {
		ae.Status, ae.Challenge = 401, challengeClient
	}
	return ae
}

func peerReason(err error) string {
	for _, r := range []struct {
		err    error
		reason string
	}{
		{ca.ErrExpired, "expired"}, {ca.ErrRevoked, "revoked"}, {ca.ErrClientDisabled, "client_disabled"},
		{ca.ErrUnknownClient, "unknown_client"}, {ca.ErrIdentity, "identity"}, {ca.ErrUntrusted, "untrusted"},
	} {
		if errors.Is(err, r.err) {
			return r.reason
		}
	}
	return "unknown"
}

// reasonForStatus is the log and audit reason of a refusal that carries no
// more specific one: a short non-secret code like the token path's, never
// an HTTP status text.
func reasonForStatus(status int) string {
	switch {
	case status == 400:
		return "bad_request"
	case status == 401:
		return "unauthorized"
	case status == 403:
		return "forbidden"
	case status == 404:
		return "not_found"
	case status == 405:
		return "method_not_allowed"
	case status == 409:
		return "conflict"
	case status == 413:
		return "body_too_large"
	case status == 415:
		return "unsupported_media_type"
	case status == 429:
		return "rate_limited"
	case status == 503:
		return "unavailable"
	case status >= 500:
		return "internal"
	}
	return "status_" + strconv.Itoa(status)
}

func fromEcho(he *echo.HTTPError) *apiError {
	switch he.Code {
	case http.StatusNotFound:
		return &apiError{Status: 404, Code: codeNotFound, Description: "no such route", Reason: "no_route"}
	case http.StatusMethodNotAllowed:
		return &apiError{Status: 405, Code: codeMethodNotAllowed, Description: "method not allowed on this route", Reason: "method_not_allowed"}
	case http.StatusRequestEntityTooLarge:
		return &apiError{Status: 413, Code: codeTooLarge, Description: "request body larger than 64 KiB", Reason: "body_too_large"}
	case http.StatusUnsupportedMediaType:
		return &apiError{Status: 415, Code: codeUnsupportedMediaType, Description: "expected Content-Type: application/json", Reason: "unsupported_media_type"}
	}
	if he.Code >= 400 && he.Code < 500 {
		return &apiError{Status: he.Code, Code: codeInvalidRequest, Description: http.StatusText(he.Code)}
	}
	return &apiError{Status: 500, Code: codeServerError, Description: "internal error", Reason: "internal"}
}

// handleError renders err as SPEC §5 JSON and logs its classification once.
func (a *API) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	ae := classify(err)
	if ae.Code == codeUnavailable && oauthRoutes[routeOf(c)] {
		cp := *ae
		cp.Code = codeTemporarilyUnavailable
		ae = &cp
	}
	switch {
	case ae.Status == 503:
		// An outage, not a bug: a warning (the cause's text, no secrets).
		a.log.WarnContext(c.Request().Context(), "request failed: database unavailable", slog.String("request_id", requestID(c)), slog.Any("err", err))
	case ae.Status >= 500:
		// The full error goes to the log; it never holds a secret because
		// secrets travel as secret.Secret.
		a.log.ErrorContext(c.Request().Context(), "request failed", slog.String("request_id", requestID(c)), slog.Any("err", err))
	}
	var clone *enroll.CloneError
	if errors.As(err, &clone) {
		// Identifiers only: serials and the client id are not secrets.
		attrs := append([]slog.Attr{slog.String("request_id", requestID(c))}, clone.LogAttrs()...)
		a.log.LogAttrs(c.Request().Context(), slog.LevelWarn, "possible cloned certificate: an already renewed certificate was presented again", attrs...)
	}
	var suspect *enroll.SuspectUseError
	if errors.As(err, &suspect) {
		attrs := append([]slog.Attr{slog.String("request_id", requestID(c))}, suspect.LogAttrs()...)
		a.log.LogAttrs(c.Request().Context(), slog.LevelWarn, "possible cloned certificate: a certificate of a suspect lineage was used", attrs...)
	}
	c.Set(ctxReason, cmp.Or(ae.Reason, reasonForStatus(ae.Status)))
	h := c.Response().Header()
	if ae.Challenge != "" {
		h.Set(echo.HeaderWWWAuthenticate, ae.Challenge)
	}
	if ae.RetryAfter > 0 {
		h.Set("Retry-After", retryAfterSeconds(ae.RetryAfter))
	}
	h.Set("Cache-Control", "no-store")
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(ae.Status)
		return
	}
	_ = c.JSON(ae.Status, errorBody{Error: ae.Code, Description: ae.Description})
}
