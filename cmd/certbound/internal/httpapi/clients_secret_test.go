package httpapi_test

import (
	"encoding/json"
	"testing"
)

// TestClientSecretExpiresAt: every response that carries a client secret
// also carries client_secret_expires_at, 0 meaning never (RFC 7591
// §3.2.1); responses without a secret carry neither.
func TestClientSecretExpiresAt(t *testing.T) {
	h := newHarness(t)
	admin := "Authorization: Bearer " + h.adminKey
	jsonCT := "Content-Type: application/json"
	decode := func(t *testing.T, body []byte) map[string]any {
		t.Helper()
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	for _, tc := range []struct {
		name, body string
		secret     bool
	}{
		{"accept/client_secret_basic", `{"client_id":"s1","scope":"a","token_endpoint_auth_method":"client_secret_basic"}`, true},
		{"accept/client_secret_post", `{"client_id":"s2","scope":"a","token_endpoint_auth_method":"client_secret_post"}`, true},
		{"accept/tls_client_auth has no secret", `{"client_id":"s3","scope":"a"}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := h.do(t, request{method: "POST", path: "/v1/clients", body: []byte(tc.body), headers: []string{admin, jsonCT}})
			if rec.Code != 201 {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
			m := decode(t, rec.Body.Bytes())
			exp, hasExp := m["client_secret_expires_at"]
			_, hasSecret := m["client_secret"]
			if hasSecret != tc.secret || hasExp != tc.secret {
				t.Fatalf("client_secret present %v, client_secret_expires_at present %v, want both %v: %s", hasSecret, hasExp, tc.secret, rec.Body)
			}
			if tc.secret && exp != 0.0 {
				t.Fatalf("client_secret_expires_at = %v, want 0 (never)", exp)
			}
			// Reading the client back shows neither.
			get := h.do(t, request{method: "GET", path: "/v1/clients/" + m["client_id"].(string), headers: []string{admin}})
			g := decode(t, get.Body.Bytes())
			if _, ok := g["client_secret_expires_at"]; ok {
				t.Fatalf("GET carries client_secret_expires_at without a secret: %s", get.Body)
			}
		})
	}
	t.Run("accept/seed route", func(t *testing.T) {
		rec := h.do(t, request{method: "POST", path: "/recipe/oauth/clients", headers: []string{"api-key: " + h.adminKey, jsonCT},
			body: []byte(`{"clientName":"TaskService","grantTypes":["client_credentials"],"scope":"event.create","audience":["event"]}`)})
		if rec.Code != 200 {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		m := decode(t, rec.Body.Bytes())
		for _, k := range []string{"status", "clientId", "clientSecret", "clientName", "grantTypes", "scope", "audience"} {
			if _, ok := m[k]; !ok {
				t.Fatalf("SPEC §9 member %s missing: %s", k, rec.Body)
			}
		}
		if m["clientSecretExpiresAt"] != 0.0 {
			t.Fatalf("clientSecretExpiresAt = %v, want 0: %s", m["clientSecretExpiresAt"], rec.Body)
		}
	})
}
