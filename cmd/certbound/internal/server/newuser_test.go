package server_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certbound/certbound/cmd/certbound/internal/adminapi"
	"github.com/certbound/certbound/cmd/certbound/internal/server"
	"github.com/certbound/certbound/cmd/certbound/internal/server/servertest"
)

func serials(t *testing.T, s *servertest.Server, query string) []string {
	t.Helper()
	r := s.Admin(t, "GET", "/v1/certificates?"+query, nil)
	if r.Status != 200 {
		t.Fatalf("GET /v1/certificates?%s: %d %s", query, r.Status, r.Body)
	}
	var page struct {
		Certificates []struct {
			Serial string `json:"serial"`
			Status string `json:"status"`
		} `json:"certificates"`
	}
	r.JSON(t, &page)
	var out []string
	for _, c := range page.Certificates {
		out = append(out, c.Serial+":"+c.Status)
	}
	return out
}

func activeGauge(t *testing.T, s *servertest.Server) float64 {
	t.Helper()
	fams := s.Metrics(t)
	g := fams["certbound_certificates_active"]
	if g == nil {
		t.Fatal("no certbound_certificates_active")
	}
	return g.Metric[0].GetGauge().GetValue()
}

// TestActiveNeverCountsSupersededCertificates: after a renewal the old
// certificate is superseded in the API's filters, its status and the
// metrics gauge alike; only the new one is active.
func TestActiveNeverCountsSupersededCertificates(t *testing.T) {
	s := servertest.Start(t, servertest.WithConfig(func(c *server.Config) { c.MetricsListen = "127.0.0.1:0" }))
	s.CreateClient(t, "svc", "a", "aud")
	cert, first := s.Enroll(t, s.MintToken(t, "svc"))
	key := servertest.NewKey(t)
	r := s.Do(t, s.HTTPClient(cert), "POST", "/v1/renew", map[string]string{"csr": servertest.CSR(t, key)})
	if r.Status != 201 {
		t.Fatalf("renew: %d %s", r.Status, r.Body)
	}
	var second servertest.Issued
	r.JSON(t, &second)

	for _, tc := range []struct{ query, want string }{
		{"active=true", second.Serial + ":active"},
		{"state=active", second.Serial + ":active"},
		{"state=superseded", first.Serial + ":superseded"},
		{"state=expired", ""},
		{"state=revoked", ""},
		{"", first.Serial + ":superseded " + second.Serial + ":active"},
	} {
		if got := strings.Join(serials(t, s, tc.query), " "); got != tc.want {
			t.Errorf("?%s → %q, want %q", tc.query, got, tc.want)
		}
	}
	if r := s.Admin(t, "GET", "/v1/certificates?state=valid", nil); r.Status != 400 {
		t.Errorf("?state=valid → %d, want 400", r.Status)
	}
	if r := s.Admin(t, "GET", "/v1/certificates?active=true&state=revoked", nil); r.Status != 400 {
		t.Errorf("?active=true&state=revoked → %d, want 400", r.Status)
	}
	if g := activeGauge(t, s); g != 1 {
		t.Fatalf("certbound_certificates_active = %v, want 1 (the superseded certificate must not count)", g)
	}
}

// TestRevokingTwiceRecordsOneRevocation: the second revocation is a no-op,
// 200 with already_revoked and the first revocation's time and reason, and
// it writes no second certificate.revoked row.
func TestRevokingTwiceRecordsOneRevocation(t *testing.T) {
	s := servertest.Start(t)
	s.CreateClient(t, "svc", "a", "aud")
	_, issued := s.Enroll(t, s.MintToken(t, "svc"))
	path := "/v1/certificates/" + issued.Serial + "/revoke"
	var first, again struct {
		RevokedAt      time.Time `json:"revoked_at"`
		Reason         string    `json:"revocation_reason"`
		AlreadyRevoked bool      `json:"already_revoked"`
		Status         string    `json:"status"`
	}
	r := s.Admin(t, "POST", path, map[string]string{"reason": "key compromise"})
	if r.Status != 200 {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	r.JSON(t, &first)
	s.Advance(2 * time.Second)
	r = s.Admin(t, "POST", path, map[string]string{"reason": "again"})
	if r.Status != 200 {
		t.Fatalf("second revoke: %d %s", r.Status, r.Body)
	}
	r.JSON(t, &again)
	if first.AlreadyRevoked || !again.AlreadyRevoked || !again.RevokedAt.Equal(first.RevokedAt) ||
		again.Reason != "key compromise" || again.Status != "revoked" {
		t.Fatalf("first %+v, again %+v", first, again)
	}
	// A later row proves the writer flushed past the second revocation.
	s.CreateClient(t, "marker", "a", "aud")
	var revoked int
	for _, e := range atLeast(t, s, 5) {
		if e.Type == "certificate.revoked" {
			revoked++
		}
	}
	if revoked != 1 {
		t.Fatalf("%d certificate.revoked rows, want 1", revoked)
	}
}

// TestRefusalReasonsAreCodes: enrollment and client refusals carry the same
// kind of non-secret reason code as the token and renewal paths, never an
// HTTP status text, in the audit trail and the request log.
func TestRefusalReasonsAreCodes(t *testing.T) {
	s := servertest.Start(t)
	s.CreateClient(t, "svc", "a", "aud")
	good := s.MintToken(t, "svc")
	key := servertest.NewKey(t)
	s.Do(t, nil, "POST", "/v1/enroll", map[string]string{"token": "cbe_unknown", "csr": servertest.CSR(t, key)})
	s.Do(t, nil, "POST", "/v1/enroll", map[string]string{"token": good, "csr": "not a csr"})
	s.Do(t, nil, "POST", "/v1/enroll", map[string]string{"token": good, "csr": servertest.CSR(t, key, "not-allowed.example")})
	s.Admin(t, "POST", "/v1/clients", map[string]any{"client_id": "Bad Id", "scope": "a", "audience": []string{"b"}})
	s.Admin(t, "POST", "/v1/clients", map[string]any{"client_id": "svc", "scope": "a", "audience": []string{"b"}})
	s.Admin(t, "POST", "/v1/clients/nobody/enrollment-tokens", nil)
	// A replay and an expiry answer exactly as an unknown token does, but the
	// trail tells them apart.
	s.Enroll(t, good)
	s.Do(t, nil, "POST", "/v1/enroll", map[string]string{"token": good, "csr": servertest.CSR(t, key)})
	late := s.MintToken(t, "svc")
	s.Advance(16 * time.Minute)
	s.Do(t, nil, "POST", "/v1/enroll", map[string]string{"token": late, "csr": servertest.CSR(t, key)})

	want := map[string]string{
		"enrollment.refused 1":       "token_unknown",
		"enrollment.refused 4":       "token_used",
		"enrollment.refused 5":       "token_expired",
		"enrollment.refused 2":       "bad_csr",
		"enrollment.refused 3":       "dns_not_allowed",
		"client.refused 1":           "bad_request",
		"client.refused 2":           "client_exists",
		"enrollment_token.refused 1": "client_not_found",
	}
	got := map[string]string{}
	seen := map[string]int{}
	for _, e := range atLeast(t, s, 2+len(want)) {
		if strings.HasSuffix(e.Type, ".refused") {
			seen[e.Type]++
			got[e.Type+" "+string(rune('0'+seen[e.Type]))] = e.Reason
		}
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: reason %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
	for _, line := range strings.Split(s.Log(), "\n") {
		if strings.Contains(line, "msg=request") && strings.Contains(line, "status=4") && !strings.Contains(line, "reason=") {
			t.Errorf("a refusal logged without a reason: %s", line)
		}
	}
}

// TestRequestLogLatencyHasAUnit: latency_ms, a number of milliseconds, in
// JSON as in text (a slog.Duration is bare nanoseconds in JSON).
func TestRequestLogLatencyHasAUnit(t *testing.T) {
	var mu sync.Mutex
	var buf bytes.Buffer
	w := writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return buf.Write(p) })
	s := servertest.Start(t, servertest.WithConfig(func(c *server.Config) { c.Logger = slog.New(slog.NewJSONHandler(w, nil)) }))
	s.Do(t, nil, "GET", "/v1/health", nil)
	s.Stop(t)
	mu.Lock()
	defer mu.Unlock()
	found := false
	for _, line := range strings.Split(buf.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil || rec["msg"] != "request" {
			continue
		}
		found = true
		if _, bare := rec["latency"]; bare {
			t.Fatalf("a bare latency: %s", line)
		}
		ms, ok := rec["latency_ms"].(float64)
		if !ok || ms < 0 || ms > 60_000 {
			t.Fatalf("latency_ms: %s", line)
		}
	}
	if !found {
		t.Fatalf("no request line in %s", buf.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// atLeast reads the audit trail until it holds n rows.
func atLeast(t *testing.T, s *servertest.Server, n int) []adminapi.AuditEvent {
	t.Helper()
	return s.AuditUntil(t, func(ev []adminapi.AuditEvent) bool { return len(ev) >= n })
}
