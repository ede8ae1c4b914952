package server_test

import (
	"strings"
	"testing"

	"github.com/certbound/certbound/cmd/certbound/internal/adminapi"
	"github.com/certbound/certbound/cmd/certbound/internal/server"
	"github.com/certbound/certbound/cmd/certbound/internal/server/servertest"
)

func TestMetricsAndAuditTrailAfterAScenario(t *testing.T) {
	s := servertest.Start(t, servertest.WithConfig(func(c *server.Config) { c.MetricsListen = "127.0.0.1:0" }))
	if s.MetricsURL == "" {
		t.Fatal("no metrics listener")
	}
	s.CreateClient(t, "task-service", "event.create", "event")
	token := s.MintToken(t, "task-service")
	cert, issued := s.Enroll(t, token)
	r := s.Do(t, s.HTTPClient(cert), "POST", "/oauth2/token", "grant_type=client_credentials&client_id=task-service",
		"Content-Type: application/x-www-form-urlencoded")
	if r.Status != 200 {
		t.Fatalf("token: %d %s", r.Status, r.Body)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	r.JSON(t, &tok)
	s.Do(t, nil, "POST", "/oauth2/token", "grant_type=client_credentials&client_id=task-service", "Content-Type: application/x-www-form-urlencoded")
	s.Do(t, nil, "GET", "/v1/clients", nil, "Authorization: Bearer wrong-key")
	s.Admin(t, "PATCH", "/v1/clients/task-service", map[string]bool{"disabled": true})

	// The audit trail, read through the admin API (the writer flushes within 200 ms).
	want := []string{"client.created", "enrollment_token.minted", "certificate.issued", "token.issued", "token.refused", "admin.auth_failed", "client.disabled"}
	events := s.AuditUntil(t, func(ev []adminapi.AuditEvent) bool { return len(ev) >= len(want) })
	var got []string
	for _, e := range events {
		got = append(got, e.Type)
		if e.Type == "certificate.issued" && (e.Serial != issued.Serial || e.ClientID != "task-service") {
			t.Errorf("certificate.issued event %+v", e)
		}
		if e.Type == "token.refused" && e.Reason == "" {
			t.Errorf("refusal without a reason: %+v", e)
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("audit trail %v, want %v", got, want)
	}
	raw := string(s.Admin(t, "GET", "/v1/audit", nil).Body)
	for _, secret := range []string{token, tok.AccessToken, s.AdminKey, "wrong-key"} {
		if strings.Contains(raw, secret) {
			t.Fatal("a secret reached the audit trail")
		}
	}

	// The metrics: histograms filled per route, events by type and client.
	fams := s.Metrics(t)
	routes := map[string]uint64{}
	for _, m := range fams["certbound_http_request_duration_seconds"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "route" {
				routes[l.GetValue()] += m.GetHistogram().GetSampleCount()
			}
		}
	}
	if routes["/oauth2/token"] != 2 || routes["/v1/enroll"] != 1 {
		t.Fatalf("latency histograms per route: %v", routes)
	}
	issuedTokens := 0.0
	for _, m := range fams["certbound_events_total"].GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["type"] == "token.issued" && labels["client_id"] == "task-service" {
			issuedTokens += m.GetCounter().GetValue()
		}
	}
	if issuedTokens != 1 {
		t.Fatalf("token.issued for task-service = %v", issuedTokens)
	}
	if g := fams["certbound_certificates_active"]; g == nil || g.Metric[0].GetGauge().GetValue() != 1 {
		t.Fatalf("active certificates gauge: %v", g)
	}
}
