package calendar

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/certbound/certbound/certs"
	"github.com/certbound/certbound/tokenex/verify"
	"github.com/certbound/certbound/tokenex/verify/verifyecho"
)

// Audience is this service's name in tokens ("aud"), and Scope the
// permission POST /events requires: the seed guide's "event" and
// "event.create".
const (
	Audience = "event"
	Scope    = "event.create"
)

// Event is the body of POST /events, as in the seed guide's Step 7.
type Event struct {
	Title    string `json:"title"`
	Date     string `json:"date"`
	Location string `json:"location,omitempty"`
}

// Created is the 201 answer to POST /events.
type Created struct {
	Message   string `json:"message"`
	ID        string `json:"id"`
	Event     Event  `json:"event"`
	CreatedBy string `json:"created_by"` // the token's client_id
}

// NewVerifier returns the token verifier of the calendar service: tokens
// issued by issuer for the audience "event", bound to the caller's
// certificate. The signing keys are found through issuer's RFC 8414 metadata,
// fetched over TLS that trusts roots (certbound's root) and nothing else, from
// a server that must hold certbound's own server certificate (verify builds
// that client itself when given Roots).
func NewVerifier(ctx context.Context, issuer string, roots *x509.CertPool) (*verify.Verifier, error) {
	v, err := verify.New(ctx, verify.Config{Issuer: issuer, Audience: Audience, Roots: roots, Realm: "calendar"})
	if err != nil {
		return nil, fmt.Errorf("calendar: %w", err)
	}
	return v, nil
}

// Service holds the events created so far. Its zero value is not usable;
// call New.
type Service struct {
	log *slog.Logger

	mu     sync.Mutex // guards the fields below
	events []Created
}

// New returns an empty calendar that logs to log (nil: slog.Default()).
func New(log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	return &Service{log: log}
}

// Handler returns the HTTP API: GET /health (open) and POST /events, which
// requires a bound token with the scope "event.create". Serve it over TLS
// that asks callers for their certificate (enrollclient's
// Renewer.ServerTLSConfig does), otherwise no bound token can pass.
func (s *Service) Handler(v *verify.Verifier) http.Handler {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Use(s.logRefusals, middleware.BodyLimit("64K"))
	e.GET("/health", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
	})
	e.POST("/events", s.createEvent, verifyecho.RequireScopes(v, Scope))
	return e
}

// logRefusals logs every refused request with the caller's certificate
// identity and the error code of the challenge; never the token.
func (s *Service) logRefusals(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		if st := c.Response().Status; st >= 400 {
			caller := "no certificate"
			if cs := c.Request().TLS; cs != nil && len(cs.PeerCertificates) > 0 {
				if id, err := certs.IDFromCertificate(cs.PeerCertificates[0]); err == nil {
					caller = id.String()
				} else {
					caller = cs.PeerCertificates[0].Subject.String()
				}
			}
			s.log.Warn("refused", "method", c.Request().Method, "path", c.Path(), "status", st, "caller", caller,
				"challenge", c.Response().Header().Get("WWW-Authenticate"))
		}
		return nil
	}
}

// createEvent runs only after the middleware accepted the token.
func (s *Service) createEvent(c echo.Context) error {
	claims, ok := verifyecho.Claims(c)
	if !ok { // cannot happen behind RequireScopes
		return echo.NewHTTPError(http.StatusUnauthorized)
	}
	var ev Event
	if err := c.Bind(&ev); err != nil || ev.Title == "" || ev.Date == "" {
		return c.JSON(http.StatusBadRequest, map[string]string{
			"error": "invalid_request", "error_description": "the body must be JSON with a title and a date",
		})
	}
	s.mu.Lock()
	created := Created{Message: "Event created successfully!", ID: strconv.Itoa(len(s.events) + 1), Event: ev, CreatedBy: claims.ClientID}
	s.events = append(s.events, created)
	s.mu.Unlock()
	s.log.Info("event created", "id", created.ID, "title", ev.Title, "client_id", claims.ClientID)
	return c.JSON(http.StatusCreated, created)
}

// Events returns a copy of the events created so far.
func (s *Service) Events() []Created {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Created(nil), s.events...)
}
