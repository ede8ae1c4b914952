package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/certbound/certbound/certs/secret"
	"github.com/certbound/certbound/enroll"
	"github.com/certbound/certbound/tokenex"
)

// AdminAuthenticator checks admin API keys.
type AdminAuthenticator interface {
	// AdminKey returns the name of the valid (unrevoked, unexpired) admin
	// key equal to key, compared in constant time with every one.
	AdminKey(key secret.Secret) (name string, ok bool)
}

// Roots serves the CA's root bundle. *ca.Authority implements it. Peers are
// verified in the domain (enroll.VerifyRenewal, tokenex), not here.
type Roots interface {
	RootPEM() []byte
}

// Config holds the services the API adapts. All fields are required unless
// marked otherwise.
type Config struct {
	CA     Roots
	Enroll *enroll.Service
	Tokens *tokenex.Service
	Admin  AdminAuthenticator
	// AdminKeys serves /v1/admin-keys. Nil: those routes answer 404.
	AdminKeys AdminKeyManager
	// Logger receives one line per request and the reasons of refusals.
	// Zero means slog.Default().
	Logger *slog.Logger
	// Now returns the current time. Zero means time.Now.
	Now func() time.Time
	// EnrollRate limits enrollment and renewal requests per second per source
	// address (SPEC §4 --rate-limit-enroll). Zero turns the limit off.
	EnrollRate float64
	// AuthFailureRate limits failed authentications (401s) per second per
	// source address on every route that takes credentials, with a burst of
	// two seconds' worth; over it the source gets 429 (RFC 6749 §2.3.1).
	// Zero turns the limit off. The token-request limit per client is not
	// here: it is tokenex's Admit hook (ClientLimiter).
	AuthFailureRate float64
	// Observer receives request latencies and audit events. Nil: none.
	Observer Observer
	// Audit serves GET /v1/audit.
	Audit AuditReader
	// Ready answers GET /v1/ready. Nil: always ready.
	Ready Readiness
}

// Readiness reports whether the server can serve requests now: the
// database answers and the CA is loaded (SPEC §13). Ready must return
// within about a second; an error says why not, and must hold nothing
// secret (it becomes the 503's error_description).
type Readiness interface {
	Ready(ctx context.Context) error
}

// API serves certbound's routes.
type API struct {
	ca       Roots
	enroll   *enroll.Service
	tokens   *tokenex.Service
	admin    AdminAuthenticator
	keys     AdminKeyManager // may be nil
	log      *slog.Logger
	now      func() time.Time
	echo     *echo.Echo
	observer Observer // may be nil
	audit    AuditReader
	ready    Readiness // may be nil

	// Swapped whole by SetLimits (SIGHUP); a nil limiter is no limit.
	enrollLimit  atomic.Pointer[limiter]
	failureLimit atomic.Pointer[failureLimiter]
}

// New builds the API and its routes.
func New(cfg Config) *API {
	a := &API{ca: cfg.CA, enroll: cfg.Enroll, tokens: cfg.Tokens, admin: cfg.Admin, keys: cfg.AdminKeys, log: cfg.Logger, now: cfg.Now,
		observer: cfg.Observer, audit: cfg.Audit, ready: cfg.Ready}
	if a.log == nil {
		a.log = slog.Default()
	}
	if a.now == nil {
		a.now = time.Now
	}
	a.SetLimits(cfg.EnrollRate, cfg.AuthFailureRate)
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = a.handleError
	// The source address is the TCP peer. Forwarding headers are client
	// input; trusting them would let anyone pick their rate-limit bucket.
	e.IPExtractor = echo.ExtractIPDirect()
	a.routes(e)
	a.echo = e
	return a
}

// SetLimits replaces the per-source limits on enrollment and renewal and on
// failed authentications (0 turns one off). In-flight requests keep the
// limiter they started with; the new ones start with full buckets.
func (a *API) SetLimits(enrollRate, authFailureRate float64) {
	a.enrollLimit.Store(newLimiter(enrollRate, 0, a.now))
	a.failureLimit.Store(newFailureLimiter(authFailureRate, a.now))
}

// ServeHTTP makes the API an http.Handler.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.echo.ServeHTTP(w, r) }
