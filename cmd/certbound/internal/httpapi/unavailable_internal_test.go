package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/certbound/certbound/ca"
	"github.com/certbound/certbound/enroll"
	"github.com/certbound/certbound/storage"
	"github.com/certbound/certbound/tokenex"
)

// TestUnavailableIs503 runs the one error table on a database outage as the
// domain packages wrap it: 503 with Retry-After on every route, the RFC 6749
// temporarily_unavailable code on the OAuth endpoints, never a 500, and never
// the verdict a refusal wrapping it would otherwise give.
func TestUnavailableIs503(t *testing.T) {
	outage := fmt.Errorf("pgx: connection refused: %w", storage.ErrUnavailable)
	tests := []struct {
		name, route string
		err         error
		wantCode    string
	}{
		{"accept/admin-route", "/v1/clients", fmt.Errorf("list clients: %w", outage), codeUnavailable},
		{"accept/enroll", "/v1/enroll", fmt.Errorf("enroll: %w", outage), codeUnavailable},
		{"accept/token-endpoint", "/oauth2/token", fmt.Errorf("tokenex: look up client: %w", outage), codeTemporarilyUnavailable},
		{"accept/introspection", "/oauth2/introspect", outage, codeTemporarilyUnavailable},
		{"accept/seed-token-route", "/auth/oauth/token", outage, codeTemporarilyUnavailable},
		// A status lookup that failed inside a peer check is not a verdict.
		{"accept/peer-status-lookup", "/v1/renew", fmt.Errorf("ca: revocation status of 01: %w", outage), codeUnavailable},
		// Even wrapped with a sentinel that would be a 4xx.
		{"accept/wrapped-with-a-verdict", "/v1/renew", errors.Join(enroll.ErrRevoked, outage), codeUnavailable},
		{"accept/wrapped-with-not-found", "/v1/clients", errors.Join(storage.ErrNotFound, outage), codeUnavailable},
		{"reject/not-an-outage", "/v1/clients", errors.New("disk on fire"), codeServerError},
		{"reject/peer-verdict", "/oauth2/token", fmt.Errorf("x: %w", ca.ErrRevoked), codeUnauthorized},
		{"reject/oauth-verdict", "/oauth2/token", &tokenex.Error{Code: tokenex.CodeInvalidClient}, tokenex.CodeInvalidClient},
	}
	a := &API{log: slog.New(slog.NewTextHandler(io.Discard, nil)), now: time.Now}
	e := echo.New()
	e.HTTPErrorHandler = a.handleError
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.Router().Add(http.MethodPost, tt.route, func(echo.Context) error { return tt.err })
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, tt.route, nil))
			var body errorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			if body.Error != tt.wantCode {
				t.Fatalf("status %d error %q, want %q", rec.Code, body.Error, tt.wantCode)
			}
			outage := tt.wantCode == codeUnavailable || tt.wantCode == codeTemporarilyUnavailable
			if outage && (rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "1") {
				t.Errorf("status %d, Retry-After %q; want 503 with Retry-After: 1", rec.Code, rec.Header().Get("Retry-After"))
			}
			if !outage && rec.Code == http.StatusServiceUnavailable {
				t.Errorf("a non-outage answered 503")
			}
		})
	}
}

type readiness func(context.Context) error

func (r readiness) Ready(ctx context.Context) error { return r(ctx) }

func TestReadyRoute(t *testing.T) {
	var notReady error
	a := New(Config{Ready: readiness(func(context.Context) error { return notReady }),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	get := func() (int, map[string]string, http.Header) {
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/ready", nil))
		var body map[string]string
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("body %q: %v", rec.Body, err)
		}
		return rec.Code, body, rec.Header()
	}
	if code, body, _ := get(); code != 200 || body["status"] != "ready" {
		t.Fatalf("ready: %d %v", code, body)
	}
	notReady = errors.New("the database does not answer")
	code, body, h := get()
	if code != 503 || body["error"] != codeUnavailable || body["error_description"] != "the database does not answer" || h.Get("Retry-After") != "1" {
		t.Fatalf("not ready: %d %v %v", code, body, h)
	}
	if _, audited := eventTypes["GET /v1/ready"]; audited {
		t.Error("/v1/ready must not be in the audit trail")
	}
}
