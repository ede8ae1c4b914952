package httpapi_test

import (
	"encoding/base64"
	"net/url"
	"testing"
)

// TestBasicCredentialsOneDecoder: the OAuth token endpoint and the seed's
// token route read Basic credentials the same way, form-url-decoded (RFC
// 6749 §2.3.1), and both refuse a request with two Authorization headers
// (which of them would count is not the server's to guess).
func TestBasicCredentialsOneDecoder(t *testing.T) {
	h := newHarness(t)
	encoded := "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape("sec")+":"+url.QueryEscape(h.secretBasic)))
	routes := []request{
		{method: "POST", path: "/oauth2/token", body: []byte("grant_type=client_credentials"),
			headers: []string{"Content-Type: application/x-www-form-urlencoded"}},
		{method: "POST", path: "/auth/oauth/token", body: []byte(`{"grantType":"client_credentials"}`),
			headers: []string{"Content-Type: application/json"}},
	}
	for _, rt := range routes {
		t.Run("accept/"+rt.path, func(t *testing.T) {
			r := rt
			r.headers = append(append([]string{}, rt.headers...), encoded)
			if rec := h.do(t, r); rec.Code != 200 {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
		})
		t.Run("reject/"+rt.path+" two Authorization headers", func(t *testing.T) {
			r := rt
			r.headers = append(append([]string{}, rt.headers...), encoded, encoded)
			if rec := h.do(t, r); rec.Code != 401 {
				t.Fatalf("%d %s, want 401", rec.Code, rec.Body)
			}
		})
		t.Run("reject/"+rt.path+" bad percent-encoding", func(t *testing.T) {
			r := rt
			r.headers = append(append([]string{}, rt.headers...), "Authorization: Basic "+base64.StdEncoding.EncodeToString([]byte("sec:%zz")))
			if rec := h.do(t, r); rec.Code != 400 {
				t.Fatalf("%d %s, want 400 invalid_request", rec.Code, rec.Body)
			}
		})
	}
}
