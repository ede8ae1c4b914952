package httpapi

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/certbound/certbound/certs/secret"
)

// Keys of values handlers leave in the echo context for the access log.
const (
	ctxRequestID = "request_id"
	ctxClientID  = "client_id"
	ctxReason    = "reason"
	ctxAdminKey  = "admin_key" // name of the admin key that authenticated the request
)

// MaxBodyBytes is SPEC §3's request body limit.
const MaxBodyBytes = 64 << 10

// MaxDiscardBytes bounds what is read, and thrown away, of a body over
// MaxBodyBytes before the 413 is written. An HTTP/1.1 server that answers
// and closes while the client is still sending makes the client's kernel
// answer the unread bytes with a reset, which destroys the 413 before a
// client that reads only after sending sees it. Reading the rest first lets
// the 413 arrive on a connection that is then closed cleanly (or even kept).
// Beyond this bound the connection is closed: a client sending more gets the
// reset. The server's ReadTimeout bounds the time spent reading.
const MaxDiscardBytes = 4 << 20

// bodyLimit enforces MaxBodyBytes on every route (SPEC §3, §5: 413
// request_too_large). A declared Content-Length over the limit is refused
// before the handler runs; a chunked body is cut off where it crosses the
// limit, and the handler's read fails with *http.MaxBytesError. Either way
// the 413 is rendered here, after discarding up to MaxDiscardBytes of the
// rest (HTTP/1 only: HTTP/2 ends the stream with RST_STREAM NO_ERROR after
// the response, RFC 9113 §8.1, which clients must not treat as a failure).
func bodyLimit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		body := r.Body
		if r.ContentLength > MaxBodyBytes {
			// A client that asked for 100-continue has sent nothing yet and
			// waits for this answer; reading would only invite the body.
			if r.ContentLength-MaxBodyBytes <= MaxDiscardBytes && !strings.EqualFold(r.Header.Get("Expect"), "100-continue") {
				discardBody(r, body)
			}
			return echo.ErrStatusRequestEntityTooLarge
		}
		lb := &limitedBody{ReadCloser: body, left: MaxBodyBytes}
		r.Body = lb
		err := next(c)
		if !lb.over {
			return err
		}
		discardBody(r, body)
		if c.Response().Committed {
			return err
		}
		return echo.ErrStatusRequestEntityTooLarge
	}
}

// discardBody reads and drops up to MaxDiscardBytes of an HTTP/1 body.
func discardBody(r *http.Request, body io.Reader) {
	if r.ProtoMajor == 1 && body != nil && body != http.NoBody {
		_, _ = io.CopyN(io.Discard, body, MaxDiscardBytes)
	}
}

// limitedBody is a request body that fails with *http.MaxBytesError once
// more than left bytes are read; over records that it did. Unlike
// http.MaxBytesReader it leaves the connection to bodyLimit, which discards
// the rest before answering.
type limitedBody struct {
	io.ReadCloser
	left int64 // bytes still allowed
	over bool
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.over {
		return 0, &http.MaxBytesError{Limit: MaxBodyBytes}
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1] // one byte past the limit tells "at" from "over"
	}
	n, err := b.ReadCloser.Read(p)
	if int64(n) > b.left {
		b.over = true
		n = int(b.left)
		b.left = 0
		return n, &http.MaxBytesError{Limit: MaxBodyBytes}
	}
	b.left -= int64(n)
	return n, err
}

// requestLog gives each request an id and logs one line when it ends: method,
// route, status, latency, client id, the name of the admin key used and, for
// refusals, the non-secret reason.
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
		if v, ok := c.Get(ctxAdminKey).(string); ok && v != "" {
			attrs = append(attrs, slog.String("admin_key", v)) // the key's name, never the key
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

// requireAdmin admits requests carrying a valid admin key as
// "Authorization: Bearer <key>" or, as in the seed, "api-key: <key>", and
// leaves the key's name for the audit trail. Revoked and expired keys are
// refused here, on every request (the key set is never stale for changes
// made through this server).
func (a *API) requireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		key, ok := adminKey(c.Request())
		name, valid := "", false
		if ok {
			name, valid = a.admin.AdminKey(key)
		}
		if !valid {
			reason := "bad_admin_key"
			if !ok {
				reason = "no_admin_key"
			}
			return &apiError{Status: 401, Code: codeUnauthorized, Description: "a valid admin key is required",
				Challenge: challengeAdmin, Reason: reason}
		}
		c.Set(ctxClientID, "admin")
		c.Set(ctxAdminKey, name)
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
