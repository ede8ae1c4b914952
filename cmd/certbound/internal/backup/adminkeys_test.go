package backup_test

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/certbound/certbound/cmd/certbound/internal/backup"
	"github.com/certbound/certbound/cmd/certbound/internal/server"
	"github.com/certbound/certbound/cmd/certbound/internal/server/servertest"
)

// Admin keys live in the database: a backup carries the named keys, their
// expiry and their revocations to the restored server.
func TestBackupRoundTripsAdminKeys(t *testing.T) {
	ctx := context.Background()
	s := servertest.Start(t)
	create := func(name, ttl string) string {
		body := map[string]string{"name": name}
		if ttl != "" {
			body["ttl"] = ttl
		}
		r := s.Admin(t, "POST", "/v1/admin-keys", body)
		if r.Status != http.StatusCreated {
			t.Fatalf("create %s: %d %s", name, r.Status, r.Body)
		}
		var k struct {
			Key string `json:"key"`
		}
		r.JSON(t, &k)
		return k.Key
	}
	ci, gone := create("ci", "90d"), create("gone", "")
	if r := s.Admin(t, "DELETE", "/v1/admin-keys/gone", nil); r.Status != http.StatusNoContent {
		t.Fatalf("revoke: %d", r.Status)
	}
	archive := filepath.Join(t.TempDir(), "b.tgz")
	if _, err := backup.Create(ctx, s.DataDir, archive, time.Now()); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "restored")
	if _, err := backup.Restore(ctx, archive, dir); err != nil {
		t.Fatal(err)
	}
	r := servertest.Start(t, servertest.WithConfig(func(c *server.Config) { c.DataDir = dir }))
	for key, want := range map[string]int{s.AdminKey: 200, ci: 200, gone: 401} {
		if got := r.Do(t, nil, "GET", "/v1/clients", nil, "Authorization: Bearer "+key).Status; got != want {
			t.Fatalf("restored server answers %d to a key that should get %d", got, want)
		}
	}
	var list struct {
		AdminKeys []struct {
			Name      string     `json:"name"`
			ExpiresAt *time.Time `json:"expires_at"`
			State     string     `json:"state"`
		} `json:"admin_keys"`
	}
	r.Admin(t, "GET", "/v1/admin-keys", nil).JSON(t, &list)
	states := map[string]string{}
	for _, k := range list.AdminKeys {
		states[k.Name] = k.State
		if k.Name == "ci" && k.ExpiresAt == nil {
			t.Fatal("ci lost its expiry in the backup")
		}
	}
	if len(states) != 3 || states["bootstrap"] != "active" || states["ci"] != "active" || states["gone"] != "revoked" {
		t.Fatalf("restored admin keys: %v", states)
	}
}
