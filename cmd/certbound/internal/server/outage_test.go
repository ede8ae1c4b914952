package server_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/certbound/certbound/cmd/certbound/internal/adminapi"
	"github.com/certbound/certbound/cmd/certbound/internal/server/servertest"
	"github.com/certbound/certbound/storage/postgres/pgtest"
)

// setConnections lets the test's database accept connections or not; on
// false it also ends every connection the server holds, as a database
// outage (or a failover) would. The PostgreSQL server itself keeps running:
// it is shared with the other tests.
func setConnections(t *testing.T, dbURL string, allow bool) {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	name := u.Path[1:]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stmt := "ALTER DATABASE " + name + " ALLOW_CONNECTIONS true"
	if !allow {
		stmt = "ALTER DATABASE " + name + " ALLOW_CONNECTIONS false"
	}
	if _, err := pgtest.Admin(t).Exec(ctx, stmt); err != nil {
		t.Fatal(err)
	}
	if !allow {
		pgtest.Terminate(t, dbURL, "")
	}
}

// pollStatus requests path until it answers want, or fails after 30 s
// (MaxStaleness: the longest anything may take to notice).
func pollStatus(t *testing.T, s *servertest.Server, path string, want int) *servertest.Response {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := s.Do(t, nil, "GET", path, nil)
		if r.Status == want {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %d %s; want %d within 30 s", path, r.Status, r.Body, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestDatabaseOutageIs503AndHeals: while the database refuses connections,
// /v1/ready says 503 and requests that need the database get 503 (never a
// 500, never a crash); /v1/health stays 200; when the database is back the
// same process is ready again and serves, and what it queued for the audit
// trail during the outage reaches it.
func TestDatabaseOutageIs503AndHeals(t *testing.T) {
	dbURL := pgtest.URL(t)
	s := servertest.Start(t, servertest.WithDatabase(dbURL))
	s.CreateClient(t, "svc-out", "x", "aud")
	cert, _ := s.Enroll(t, s.MintToken(t, "svc-out"))
	mtls := s.HTTPClient(cert)
	tokenOK(t, s, mtls, "grant_type=client_credentials&client_id=svc-out")
	if r := s.Do(t, nil, "GET", "/v1/ready", nil); r.Status != 200 || string(r.Body) != "{\"status\":\"ready\"}\n" {
		t.Fatalf("ready: %d %q", r.Status, r.Body)
	}

	setConnections(t, dbURL, false)
	r := pollStatus(t, s, "/v1/ready", http.StatusServiceUnavailable)
	if r.ErrorCode() != "unavailable" {
		t.Fatalf("not ready: %s", r.Body)
	}
	if r := s.Do(t, nil, "GET", "/v1/health", nil); r.Status != 200 {
		t.Fatalf("liveness during the outage: %d", r.Status)
	}
	for _, tc := range []struct {
		name     string
		do       func() *servertest.Response
		wantCode string
	}{
		{"admin-read", func() *servertest.Response { return s.Admin(t, "GET", "/v1/clients", nil) }, "unavailable"},
		{"admin-write", func() *servertest.Response {
			return s.Admin(t, "POST", "/v1/clients", map[string]any{"client_id": "svc-new", "scope": "x", "audience": []string{"aud"}})
		}, "unavailable"},
		{"enroll", func() *servertest.Response {
			return s.Do(t, nil, "POST", "/v1/enroll", map[string]string{"token": "cbe_unknown", "csr": servertest.CSR(t, servertest.NewKey(t))})
		}, "unavailable"},
		{"token", func() *servertest.Response {
			return s.Do(t, mtls, "POST", "/oauth2/token", "grant_type=client_credentials&client_id=svc-out", formType)
		}, "temporarily_unavailable"},
	} {
		r := tc.do()
		if r.Status != http.StatusServiceUnavailable || r.ErrorCode() != tc.wantCode || r.Header.Get("Retry-After") == "" {
			t.Errorf("%s during the outage: %d %s (Retry-After %q); want 503 %s", tc.name, r.Status, r.Body, r.Header.Get("Retry-After"), tc.wantCode)
		}
	}

	setConnections(t, dbURL, true)
	pollStatus(t, s, "/v1/ready", http.StatusOK)
	tokenOK(t, s, mtls, "grant_type=client_credentials&client_id=svc-out")
	s.CreateClient(t, "svc-after", "x", "aud")
	s.Enroll(t, s.MintToken(t, "svc-after"))
	// The refusals recorded while the database was away were kept, not lost.
	events := s.AuditUntil(t, func(ev []adminapi.AuditEvent) bool {
		return slices.ContainsFunc(ev, func(e adminapi.AuditEvent) bool {
			return e.Type == "token.refused" && e.Reason == "database_unavailable"
		})
	})
	if !slices.ContainsFunc(events, func(e adminapi.AuditEvent) bool {
		return e.Type == "token.refused" && e.Reason == "database_unavailable"
	}) {
		t.Errorf("the token refused during the outage is not in the audit trail: %+v", events)
	}
}
