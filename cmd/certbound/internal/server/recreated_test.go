package server_test

import (
	"net/url"
	"testing"

	"github.com/certbound/certbound/cmd/certbound/internal/server/servertest"
)

// TestDeletedClientTokenStaysInactive, over real HTTPS: a token of a client
// that was deleted does not introspect as active again once a client of the
// same id is registered, the same second, while the new client's tokens do.
func TestDeletedClientTokenStaysInactive(t *testing.T) {
	s := servertest.Start(t)
	create := func() string {
		r := s.Admin(t, "POST", "/v1/clients", map[string]any{"client_id": "reborn", "scope": "a", "audience": []string{"aud"},
			"token_endpoint_auth_method": "client_secret_post"})
		if r.Status != 201 {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
		var c struct {
			Secret string `json:"client_secret"`
		}
		r.JSON(t, &c)
		return c.Secret
	}
	token := func(sec string) string {
		r := s.Do(t, nil, "POST", "/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"reborn"},
			"client_secret": {sec}}.Encode(), "Content-Type: application/x-www-form-urlencoded")
		if r.Status != 200 {
			t.Fatalf("token: %d %s", r.Status, r.Body)
		}
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		r.JSON(t, &tok)
		return tok.AccessToken
	}
	active := func(tok string) bool {
		r := s.Do(t, nil, "POST", "/oauth2/introspect", "token="+url.QueryEscape(tok),
			"Content-Type: application/x-www-form-urlencoded", "Authorization: Bearer "+s.AdminKey)
		if r.Status != 200 {
			t.Fatalf("introspect: %d %s", r.Status, r.Body)
		}
		var in struct {
			Active bool `json:"active"`
		}
		r.JSON(t, &in)
		return in.Active
	}
	old := token(create())
	if !active(old) {
		t.Fatal("precondition: the token is active")
	}
	if r := s.Admin(t, "DELETE", "/v1/clients/reborn", nil); r.Status != 204 {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	fresh := token(create())
	if active(old) {
		t.Fatal("the deleted client's token is active again under the new client of the same id")
	}
	if !active(fresh) {
		t.Fatal("the new client's token is inactive")
	}
}
