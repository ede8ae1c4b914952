package httpapi

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/certbound/certbound/certs/secret"
)

// Keys of values handlers leave in the echo context for the access log.
const (
	ctxRequestID = "request_id"
	ctxClientID  = "client_id"
	ctxReason    = "reason"
)

// MaxBodyBytes is SPEC §3's request body limit.
const MaxBodyBytes = 64 << 10

// "64KiB", not "64K": echo reads "K" as 1000.
var bodyLimit = middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{Limit: "64KiB"})

// requestLog gives each request an id and logs one line when it ends: method,
// route, status, latency, client id and, for refusals, the non-secret reason.
// Bodies, query strings and headers are never logged: they carry secrets.
func (a *API) requestLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		id := newRequestID()
		c.Set(ctxRequestID, id)
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		err := next(c)
		if err != nil {
			c.Error(err) // renders the response now, so the status below is right
		}
		status := c.Response().Status
		took := time.Since(start)
		a.observe(c, status, took)
		attrs := []slog.Attr{
			slog.String("request_id", id),
			slog.String("method", c.Request().Method),
			slog.String("route", routeOf(c)),
			slog.Int("status", status),
			// Milliseconds as a number, the same in text and JSON (a
			// slog.Duration is "1.2ms" in text but bare nanoseconds in JSON).
			slog.Float64("latency_ms", float64(took.Microseconds())/1000),
			slog.String("remote", c.RealIP()),
		}
		if v, ok := c.Get(ctxClientID).(string); ok && v != "" {
			attrs = append(attrs, slog.String("client_id", v))
		}
		if v, ok := c.Get(ctxReason).(string); ok && v != "" {
			attrs = append(attrs, slog.String("reason", v))
		}
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		a.log.LogAttrs(c.Request().Context(), level, "request", attrs...)
		return nil
	}
}

// routeOf returns the matched route pattern (never the raw path, which may
// carry attacker-chosen bytes), or "unmatched".
func routeOf(c echo.Context) string {
	if p := c.Path(); p != "" {
		return p
	}
	return "unmatched"
}

func requestID(c echo.Context) string {
	id, _ := c.Get(ctxRequestID).(string)
	return id
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// errPanic is what a recovered panic becomes: a 500 that reveals nothing.
var errPanic = errors.New("httpapi: handler panicked")

// recoverPanic turns a panic in a handler into a logged 500 with a JSON
// body, instead of a dropped connection. The log gets the panic's type and
// the stack, not the value: it could hold request data.
func (a *API) recoverPanic(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			r := recover()
			if r == nil {
				return
			}
			if r == http.ErrAbortHandler {
				panic(r)
			}
			a.log.ErrorContext(c.Request().Context(), "handler panicked", slog.String("request_id", requestID(c)),
				slog.String("panic_type", fmt.Sprintf("%T", r)), slog.String("stack", string(debug.Stack())))
			err = errPanic
		}()
		return next(c)
	}
}

// requireAdmin admits requests carrying an admin key as
// "Authorization: Bearer <key>" or, as in the seed, "api-key: <key>".
func (a *API) requireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		key, ok := adminKey(c.Request())
		if !ok || !a.admin.AdminKeyValid(key) {
			reason := "bad_admin_key"
			if !ok {
				reason = "no_admin_key"
			}
			return &apiError{Status: 401, Code: codeUnauthorized, Description: "a valid admin key is required",
				Challenge: challengeAdmin, Reason: reason}
		}
		c.Set(ctxClientID, "admin")
		return next(c)
	}
}

func adminKey(r *http.Request) (secret.Secret, bool) {
	if v := r.Header.Values("Authorization"); len(v) == 1 {
		scheme, token, ok := strings.Cut(v[0], " ")
		if ok && strings.EqualFold(scheme, "Bearer") && token != "" {
			return secret.FromString(token), true
		}
		return secret.Secret{}, false
	}
	if v := r.Header.Values("Api-Key"); len(v) == 1 && v[0] != "" {
		return secret.FromString(v[0]), true
	}
	return secret.Secret{}, false
}
