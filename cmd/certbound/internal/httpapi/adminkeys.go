package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/certbound/certbound/certs"
	"github.com/certbound/certbound/certs/secret"
	"github.com/certbound/certbound/cmd/certbound/internal/adminapi"
	"github.com/certbound/certbound/storage"
)

// AdminKeyManager creates, lists and revokes admin keys (SPEC §14). A change
// applies to the next request: the key set the AdminAuthenticator checks is
// updated before the call returns.
type AdminKeyManager interface {
	// CreateAdminKey makes a key valid for ttl (zero: until revoked). A
	// taken name → storage.ErrAdminKeyExists.
	CreateAdminKey(ctx context.Context, name string, ttl time.Duration) (storage.AdminKey, secret.Secret, error)
	// AdminKeys lists every key, revoked and expired ones included.
	AdminKeys(ctx context.Context) ([]storage.AdminKey, error)
	// RevokeAdminKey revokes a key: storage.ErrAdminKeyNotFound,
	// storage.ErrAdminKeyRevoked, storage.ErrLastAdminKey.
	RevokeAdminKey(ctx context.Context, name string) error
}

type adminKeyRequest struct {
	Name string `json:"name"`
	TTL  string `json:"ttl,omitempty"` // "90d" or a Go duration ("720h"); empty: never expires
}

// maxAdminKeyDays bounds an admin key's ttl (ten years); a key that should
// never expire is made without one.
const maxAdminKeyDays = 3650

const adminKeyTTLHelp = `ttl must be a positive duration of at most 3650d, in days ("90d") or as a Go duration ("720h")`

// parseAdminKeyTTL reads "<n>d" (whole days) or a Go duration.
func parseAdminKeyTTL(s string) (time.Duration, error) {
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 || n > maxAdminKeyDays {
			return 0, badRequest(adminKeyTTLHelp)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, badRequest(adminKeyTTLHelp)
		}
	}
	if d <= 0 || d > maxAdminKeyDays*24*time.Hour {
		return 0, badRequest(adminKeyTTLHelp)
	}
	return d, nil
}

const adminKeyNameHelp = "name must match ^[a-z0-9][a-z0-9._-]{0,62}$ (the rule of client ids)"

// createAdminKey is POST /v1/admin-keys {name, ttl?} → 201 {name, key,
// created_at, expires_at}. The key is shown this once.
func (a *API) createAdminKey(c echo.Context) error {
	if a.keys == nil {
		return echo.ErrNotFound
	}
	var req adminKeyRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	if !certs.ValidClientID(req.Name) {
		return badRequest(adminKeyNameHelp)
	}
	c.Set(ctxTarget, req.Name)
	var ttl time.Duration
	if req.TTL != "" {
		d, err := parseAdminKeyTTL(req.TTL)
		if err != nil {
			return err
		}
		ttl = d
	}
	rec, key, err := a.keys.CreateAdminKey(c.Request().Context(), req.Name, ttl)
	if err != nil {
		return err
	}
	noStore(c)
	return c.JSON(http.StatusCreated, adminapi.NewAdminKey{Name: rec.Name, Key: key.Reveal(), CreatedAt: rec.CreatedAt.UTC(),
		ExpiresAt: optionalTime(rec.ExpiresAt)})
}

// listAdminKeys is GET /v1/admin-keys: names, dates and states, never a key
// or its hash.
func (a *API) listAdminKeys(c echo.Context) error {
	if a.keys == nil {
		return echo.ErrNotFound
	}
	list, err := a.keys.AdminKeys(c.Request().Context())
	if err != nil {
		return err
	}
	now := a.now()
	out := make([]adminapi.AdminKey, 0, len(list))
	for _, k := range list {
		v := adminapi.AdminKey{Name: k.Name, CreatedAt: k.CreatedAt.UTC(), ExpiresAt: optionalTime(k.ExpiresAt),
			LastUsedAt: optionalTime(k.LastUsedAt), RevokedAt: optionalTime(k.RevokedAt)}
		switch {
		case !k.RevokedAt.IsZero():
			v.State = "revoked"
		case !k.Valid(now):
			v.State = "expired"
		default:
			v.State = "active"
		}
		out = append(out, v)
	}
	return c.JSON(http.StatusOK, adminapi.AdminKeys{AdminKeys: out})
}

// revokeAdminKey is DELETE /v1/admin-keys/{name} → 204. The key is refused
// from the next request on. 404 unknown; 409 revoked before, or the last
// valid key.
func (a *API) revokeAdminKey(c echo.Context) error {
	if a.keys == nil {
		return echo.ErrNotFound
	}
	name := c.Param("name")
	if !certs.ValidClientID(name) {
		return storage.ErrAdminKeyNotFound
	}
	c.Set(ctxTarget, name)
	if err := a.keys.RevokeAdminKey(c.Request().Context(), name); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
