package server_test

import (
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certbound/certbound/certs/secret"
	"github.com/certbound/certbound/cmd/certbound/internal/adminapi"
	"github.com/certbound/certbound/cmd/certbound/internal/server"
	"github.com/certbound/certbound/cmd/certbound/internal/server/servertest"
)

type newAdminKey struct {
	Name      string     `json:"name"`
	Key       string     `json:"key"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at"`
}

type listedAdminKey struct {
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	State      string     `json:"state"`
}

// createAdminKey creates an admin key with the bootstrap key and returns it.
func createAdminKey(t *testing.T, s *servertest.Server, name, ttl string) newAdminKey {
	t.Helper()
	body := map[string]string{"name": name}
	if ttl != "" {
		body["ttl"] = ttl
	}
	r := s.Admin(t, "POST", "/v1/admin-keys", body)
	if r.Status != http.StatusCreated {
		t.Fatalf("create admin key %s: %d %s", name, r.Status, r.Body)
	}
	if r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("Pragma") != "no-cache" {
		t.Fatalf("a new admin key without no-store: %v", r.Header)
	}
	var k newAdminKey
	r.JSON(t, &k)
	if k.Name != name || !strings.HasPrefix(k.Key, "cba_") || k.CreatedAt.IsZero() {
		t.Fatalf("created %+v", k)
	}
	return k
}

func listAdminKeys(t *testing.T, s *servertest.Server) (map[string]listedAdminKey, string) {
	t.Helper()
	return listAdminKeysWith(t, s, nil, s.AdminKey)
}

func listAdminKeysWith(t *testing.T, s *servertest.Server, c *http.Client, key string) (map[string]listedAdminKey, string) {
	t.Helper()
	r := s.Do(t, c, "GET", "/v1/admin-keys", nil, "Authorization: Bearer "+key)
	if r.Status != http.StatusOK {
		t.Fatalf("list admin keys: %d %s", r.Status, r.Body)
	}
	var out struct {
		AdminKeys []listedAdminKey `json:"admin_keys"`
	}
	r.JSON(t, &out)
	m := map[string]listedAdminKey{}
	for _, k := range out.AdminKeys {
		m[k.Name] = k
	}
	return m, string(r.Body)
}

// as sends an admin request with key in the Authorization header.
func as(t *testing.T, s *servertest.Server, key, method, path string, body any) *servertest.Response {
	t.Helper()
	return s.Do(t, nil, method, path, body, "Authorization: Bearer "+key)
}

// waitForAudit reads the audit trail until it holds every wanted type.
func waitForAudit(t *testing.T, s *servertest.Server, want ...string) []adminapi.AuditEvent {
	t.Helper()
	hasAll := func(ev []adminapi.AuditEvent) bool {
		for _, w := range want {
			if !slices.ContainsFunc(ev, func(e adminapi.AuditEvent) bool { return e.Type == w }) {
				return false
			}
		}
		return true
	}
	ev := s.AuditUntil(t, hasAll)
	if !hasAll(ev) {
		t.Fatalf("audit trail lacks one of %v: %+v", want, ev)
	}
	return ev
}

func TestAdminKeyCreateUseRevokeWithoutRestart(t *testing.T) {
	s := servertest.Start(t)
	ci := createAdminKey(t, s, "ci", "")
	if ci.ExpiresAt != nil {
		t.Fatalf("a key without ttl expires: %v", ci.ExpiresAt)
	}

	// The new key works at once, in every form the API takes an admin key.
	if r := as(t, s, ci.Key, "GET", "/v1/clients", nil); r.Status != http.StatusOK {
		t.Fatalf("new key, Bearer: %d %s", r.Status, r.Body)
	}
	if r := s.Do(t, nil, "GET", "/v1/clients", nil, "api-key: "+ci.Key); r.Status != http.StatusOK {
		t.Fatalf("new key, api-key header: %d %s", r.Status, r.Body)
	}
	if r := as(t, s, ci.Key, "POST", "/v1/clients", map[string]any{"client_id": "made-by-ci", "scope": "a", "audience": []string{"aud"}}); r.Status != http.StatusCreated {
		t.Fatalf("create a client with the new key: %d %s", r.Status, r.Body)
	}
	seed := map[string]any{"clientName": "seed", "grantTypes": []string{"client_credentials"}, "scope": "a", "audience": []string{"aud"}}
	if r := s.Do(t, nil, "POST", "/recipe/oauth/clients", seed, "api-key: "+ci.Key); r.Status != http.StatusOK {
		t.Fatalf("seed route with the new key: %d %s", r.Status, r.Body)
	}
	introspect := func(key string) *servertest.Response {
		return s.Do(t, nil, "POST", "/oauth2/introspect", "token=not-a-token",
			"Content-Type: application/x-www-form-urlencoded", "Authorization: Bearer "+key)
	}
	if r := introspect(ci.Key); r.Status != http.StatusOK {
		t.Fatalf("introspection with the new key: %d %s", r.Status, r.Body)
	}

	// Revoked with the bootstrap key: refused on the next request, no restart.
	if r := s.Admin(t, "DELETE", "/v1/admin-keys/ci", nil); r.Status != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	for _, r := range []*servertest.Response{
		as(t, s, ci.Key, "GET", "/v1/clients", nil),
		s.Do(t, nil, "GET", "/v1/clients", nil, "api-key: "+ci.Key),
		as(t, s, ci.Key, "POST", "/v1/admin-keys", map[string]string{"name": "sneaky"}),
		introspect(ci.Key),
	} {
		if r.Status != http.StatusUnauthorized || r.Header.Get("WWW-Authenticate") == "" {
			t.Fatalf("revoked key: %d %v %s", r.Status, r.Header, r.Body)
		}
	}
	if r := s.Admin(t, "GET", "/v1/clients", nil); r.Status != http.StatusOK {
		t.Fatalf("bootstrap key after the revocation: %d", r.Status)
	}
	if r := introspect(s.AdminKey); r.Status != http.StatusOK {
		t.Fatalf("introspection with the bootstrap key: %d", r.Status)
	}

	keys, raw := listAdminKeys(t, s)
	if keys["ci"].State != "revoked" || keys["ci"].RevokedAt == nil || keys["ci"].LastUsedAt == nil ||
		keys["bootstrap"].State != "active" || keys["bootstrap"].LastUsedAt == nil {
		t.Fatalf("list: %s", raw)
	}

	// The trail names the key that acted, and the key each admin_key event is about.
	events := waitForAudit(t, s, "admin_key.created", "client.created", "admin_key.revoked", "admin.auth_failed")
	var created, revoked, clientByCI bool
	failed := 0
	for _, e := range events {
		switch {
		case e.Type == "admin_key.created" && e.TargetKey == "ci":
			created = e.AdminKey == "bootstrap"
		case e.Type == "admin_key.revoked":
			revoked = e.AdminKey == "bootstrap" && e.TargetKey == "ci"
		case e.Type == "client.created" && e.ClientID == "made-by-ci":
			clientByCI = e.AdminKey == "ci"
		case e.Type == "client.created" && e.AdminKey != "ci":
			t.Errorf("seed client created by %q, want ci: %+v", e.AdminKey, e)
		case e.Type == "admin.auth_failed":
			failed++
			if e.AdminKey != "" {
				t.Errorf("a failed authentication names a key: %+v", e)
			}
		}
	}
	if !created || !revoked || !clientByCI || failed == 0 {
		t.Fatalf("audit rows: created by bootstrap %v, revoked by bootstrap %v, client by ci %v, failed logins %d\n%+v",
			created, revoked, clientByCI, failed, events)
	}
	if rawTrail := string(s.Admin(t, "GET", "/v1/audit", nil).Body); strings.Contains(rawTrail, ci.Key) || strings.Contains(rawTrail, s.AdminKey) {
		t.Fatal("an admin key reached the audit trail")
	}
	if strings.Contains(s.Log(), ci.Key) {
		t.Fatal("an admin key reached the log")
	}
	if !strings.Contains(s.Log(), "admin_key=ci") {
		t.Fatal("the request log does not name the admin key that acted")
	}
}

func TestAdminKeyExpiresOnTheInjectedClock(t *testing.T) {
	s := servertest.Start(t)
	k := createAdminKey(t, s, "short", "1h")
	if k.ExpiresAt == nil || k.ExpiresAt.Sub(s.Now()) > time.Hour || k.ExpiresAt.Sub(s.Now()) < 59*time.Minute {
		t.Fatalf("expires_at %v, want an hour from %v", k.ExpiresAt, s.Now())
	}
	days := createAdminKey(t, s, "quarterly", "90d")
	if d := days.ExpiresAt.Sub(s.Now()); d > 90*24*time.Hour || d < 90*24*time.Hour-time.Minute {
		t.Fatalf("90d key expires in %v", d)
	}
	if r := as(t, s, k.Key, "GET", "/v1/clients", nil); r.Status != http.StatusOK {
		t.Fatalf("before expiry: %d", r.Status)
	}
	s.Advance(time.Hour + time.Second)
	if r := as(t, s, k.Key, "GET", "/v1/clients", nil); r.Status != http.StatusUnauthorized || r.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("expired key: %d %s", r.Status, r.Body)
	}
	if r := as(t, s, days.Key, "GET", "/v1/clients", nil); r.Status != http.StatusOK {
		t.Fatalf("unexpired key: %d", r.Status)
	}
	keys, raw := listAdminKeys(t, s)
	if keys["short"].State != "expired" || keys["quarterly"].State != "active" || keys["bootstrap"].ExpiresAt != nil {
		t.Fatalf("list: %s", raw)
	}
}

func TestAdminKeyRefusals(t *testing.T) {
	s := servertest.Start(t)
	// The bootstrap key is the only valid one.
	r := s.Admin(t, "DELETE", "/v1/admin-keys/bootstrap", nil)
	if r.Status != http.StatusConflict || r.ErrorCode() != "conflict" || !strings.Contains(string(r.Body), "last valid admin key") {
		t.Fatalf("revoke the last valid key: %d %s", r.Status, r.Body)
	}
	k := createAdminKey(t, s, "ci", "")
	for _, tc := range []struct {
		name, method, path string
		body               any
		status             int
		code               string
	}{
		{"reject/duplicate name", "POST", "/v1/admin-keys", map[string]string{"name": "ci"}, 409, "conflict"},
		{"reject/the bootstrap name", "POST", "/v1/admin-keys", map[string]string{"name": "bootstrap"}, 409, "conflict"},
		{"reject/unknown key", "DELETE", "/v1/admin-keys/nope", nil, 404, "not_found"},
		{"reject/malformed name in the path", "DELETE", "/v1/admin-keys/" + url.PathEscape("Not A Name"), nil, 404, "not_found"},
		{"reject/no name", "POST", "/v1/admin-keys", map[string]string{}, 400, "invalid_request"},
		{"reject/name with capitals", "POST", "/v1/admin-keys", map[string]string{"name": "CI"}, 400, "invalid_request"},
		{"reject/name too long", "POST", "/v1/admin-keys", map[string]string{"name": strings.Repeat("a", 64)}, 400, "invalid_request"},
		{"reject/ttl zero days", "POST", "/v1/admin-keys", map[string]string{"name": "x1", "ttl": "0d"}, 400, "invalid_request"},
		{"reject/ttl negative", "POST", "/v1/admin-keys", map[string]string{"name": "x2", "ttl": "-1h"}, 400, "invalid_request"},
		{"reject/ttl fractional days", "POST", "/v1/admin-keys", map[string]string{"name": "x3", "ttl": "1.5d"}, 400, "invalid_request"},
		{"reject/ttl over ten years", "POST", "/v1/admin-keys", map[string]string{"name": "x4", "ttl": "3651d"}, 400, "invalid_request"},
		{"reject/ttl not a duration", "POST", "/v1/admin-keys", map[string]string{"name": "x5", "ttl": "soon"}, 400, "invalid_request"},
		{"reject/unknown field", "POST", "/v1/admin-keys", map[string]string{"name": "x6", "key": "cba_chosen"}, 400, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.Admin(t, tc.method, tc.path, tc.body)
			if r.Status != tc.status || r.ErrorCode() != tc.code {
				t.Fatalf("%d %s, want %d %s", r.Status, r.Body, tc.status, tc.code)
			}
		})
	}
	// Revoked twice: the second time is a conflict; the name stays taken.
	if r := s.Admin(t, "DELETE", "/v1/admin-keys/ci", nil); r.Status != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	if r := s.Admin(t, "DELETE", "/v1/admin-keys/ci", nil); r.Status != http.StatusConflict {
		t.Fatalf("revoke again: %d %s", r.Status, r.Body)
	}
	if r := s.Admin(t, "POST", "/v1/admin-keys", map[string]string{"name": "ci"}); r.Status != http.StatusConflict {
		t.Fatalf("reuse a revoked name: %d %s", r.Status, r.Body)
	}
	// A key may revoke the bootstrap key while it stays valid itself.
	other := createAdminKey(t, s, "other", "")
	if r := as(t, s, other.Key, "DELETE", "/v1/admin-keys/bootstrap", nil); r.Status != http.StatusNoContent {
		t.Fatalf("revoke bootstrap with another key: %d %s", r.Status, r.Body)
	}
	if r := as(t, s, other.Key, "DELETE", "/v1/admin-keys/other", nil); r.Status != http.StatusConflict {
		t.Fatalf("revoke the last valid key (itself): %d %s", r.Status, r.Body)
	}

	// The list never carries a key or a hash.
	_, raw := listAdminKeysWith(t, s, nil, other.Key)
	for _, key := range []string{s.AdminKey, k.Key, other.Key} {
		h := secret.FromString(key).Hash()
		for _, form := range []string{key, strings.TrimPrefix(key, "cba_"), hex.EncodeToString(h),
			base64.StdEncoding.EncodeToString(h), base64.RawURLEncoding.EncodeToString(h)} {
			if strings.Contains(raw, form) {
				t.Fatalf("the list carries key material: %s", raw)
			}
		}
	}
	for _, field := range []string{`"key"`, `"hash"`} {
		if strings.Contains(raw, field) {
			t.Fatalf("the list has a %s field: %s", field, raw)
		}
	}
}

func TestAdminKeysSurviveARestart(t *testing.T) {
	started := time.Now()
	s := servertest.Start(t)
	ci := createAdminKey(t, s, "ci", "")
	gone := createAdminKey(t, s, "gone", "")
	as(t, s, ci.Key, "GET", "/v1/clients", nil)
	s.Admin(t, "DELETE", "/v1/admin-keys/gone", nil)
	bootstrap := s.AdminKey

	// A use is not a write: the list shows it from memory, the database
	// gets it later (at most once a minute per key) or at shutdown.
	if keys, raw := listAdminKeys(t, s); keys["ci"].LastUsedAt == nil {
		t.Fatalf("list does not show ci's use: %s", raw)
	}
	lastUse := func(s *servertest.Server) time.Time {
		recs, err := s.OpenDB(t).AdminKeys(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.Name == "ci" {
				return r.LastUsedAt
			}
		}
		t.Fatal("no ci record")
		return time.Time{}
	}
	if !lastUse(s).IsZero() && time.Since(started) < 50*time.Second {
		t.Fatal("a request wrote ci's last use to the database")
	}

	s = s.Restart(t)
	if s.AdminKey != bootstrap {
		t.Fatal("a restart replaced admin.key")
	}
	if r := as(t, s, ci.Key, "GET", "/v1/clients", nil); r.Status != http.StatusOK {
		t.Fatalf("ci after restart: %d", r.Status)
	}
	if r := as(t, s, gone.Key, "GET", "/v1/clients", nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("revoked key after restart: %d", r.Status)
	}
	// The last use was written at shutdown.
	if lastUse(s).IsZero() {
		t.Fatal("ci's last use was not written at shutdown")
	}
}

// When every key has expired, the next start mints a new one into
// admin.key rather than lock the operator out.
func TestAStartWithNoValidAdminKeyMintsOne(t *testing.T) {
	s := servertest.Start(t)
	short := createAdminKey(t, s, "short", "1h")
	if r := as(t, s, short.Key, "DELETE", "/v1/admin-keys/bootstrap", nil); r.Status != http.StatusNoContent {
		t.Fatalf("revoke bootstrap: %d %s", r.Status, r.Body)
	}
	old := s.AdminKey
	s.Advance(2 * time.Hour)
	if r := as(t, s, short.Key, "GET", "/v1/clients", nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("expired key: %d", r.Status)
	}
	s = s.Restart(t)
	if s.AdminKey == old {
		t.Fatal("admin.key still holds the revoked key")
	}
	// The restarted server's certificate dates from the advanced clock:
	// verify it on that clock.
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.Roots, Time: s.Now}}}
	defer c.CloseIdleConnections()
	if r := s.Do(t, c, "GET", "/v1/clients", nil, "Authorization: Bearer "+s.AdminKey); r.Status != http.StatusOK {
		t.Fatalf("the new key: %d", r.Status)
	}
	keys, raw := listAdminKeysWith(t, s, c, s.AdminKey)
	active := 0
	for name, k := range keys {
		if k.State == "active" {
			active++
			if !strings.HasPrefix(name, "bootstrap-") {
				t.Fatalf("new key named %q", name)
			}
		}
	}
	if active != 1 {
		t.Fatalf("list: %s", raw)
	}
	if fi, err := os.Stat(filepath.Join(s.DataDir, server.AdminKeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin.key: %v %v", fi, err)
	}
}
