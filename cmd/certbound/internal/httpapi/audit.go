package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/certbound/certbound/cmd/certbound/internal/adminapi"
	"github.com/certbound/certbound/storage"
)

// AuditReader reads the audit trail. storage.Store includes it.
type AuditReader interface {
	ListAuditEvents(ctx context.Context, f storage.AuditFilter) ([]storage.AuditEvent, error)
}

// listAudit is GET /v1/audit?since=<RFC 3339 or duration>&client_id=&type=&after=&limit=.
func (a *API) listAudit(c echo.Context) error {
	f := storage.AuditFilter{ClientID: c.QueryParam("client_id"), Type: c.QueryParam("type")}
	if v := c.QueryParam("since"); v != "" {
		if d, err := time.ParseDuration(v); err == nil && d > 0 {
			f.Since = a.now().Add(-d)
		} else if t, err := time.Parse(time.RFC3339, v); err == nil {
			f.Since = t
		} else {
			return badRequest(`since must be a duration ("24h") or an RFC 3339 time`)
		}
	}
	if v := c.QueryParam("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return badRequest("after must be an event id")
		}
		f.AfterID = n
	}
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return badRequest("limit must be between 1 and 1000")
		}
		f.Limit = n
	}
	events, err := a.audit.ListAuditEvents(c.Request().Context(), f)
	if err != nil {
		return err
	}
	out := make([]adminapi.AuditEvent, 0, len(events))
	for _, e := range events {
		out = append(out, adminapi.AuditEvent(e))
	}
	return c.JSON(http.StatusOK, adminapi.AuditEvents{Events: out})
}
