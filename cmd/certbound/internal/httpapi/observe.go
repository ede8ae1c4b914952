package httpapi

import (
	"cmp"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/certbound/certbound/certs"
	"github.com/certbound/certbound/storage"
)

// Observer receives what each request did: its latency for the metrics and,
// for requests that change or try security state, one event for the audit
// trail and the event counters. Implementations must not block for long.
type Observer interface {
	ObserveRequest(method, route string, status int, d time.Duration)
	ObserveEvent(e storage.AuditEvent)
}

// Keys handlers set for the audit event.
const (
	ctxSerial = "serial"     // certificate serial the request issued or revoked
	ctxEvent  = "event_type" // overrides the route's event type (PATCH client → client.disabled)
	ctxTarget = "target_key" // name of the admin key an admin_key.* request is about (well-formed only)
)

// eventTypes names the event of each state-changing route: on success, on
// refusal. Reads are not audited.
var eventTypes = map[string][2]string{
	"POST /v1/enroll":                        {"certificate.issued", "enrollment.refused"},
	"POST /v1/renew":                         {"certificate.renewed", "renewal.refused"},
	"POST /oauth2/token":                     {"token.issued", "token.refused"},
	"POST /auth/oauth/token":                 {"token.issued", "token.refused"},
	"POST /oauth2/introspect":                {"", "introspection.refused"},
	"POST /v1/clients":                       {"client.created", "client.refused"},
	"POST /recipe/oauth/clients":             {"client.created", "client.refused"},
	"PATCH /v1/clients/:id":                  {"client.changed", "client.refused"},
	"DELETE /v1/clients/:id":                 {"client.deleted", "client.refused"},
	"POST /v1/clients/:id/enrollment-tokens": {"enrollment_token.minted", "enrollment_token.refused"},
	"POST /v1/certificates/:serial/revoke":   {"certificate.revoked", "revocation.refused"},
	"POST /v1/keys/rotate":                   {"signing_key.rotated", ""},
	"POST /v1/admin-keys":                    {"admin_key.created", "admin_key.refused"},
	"DELETE /v1/admin-keys/:name":            {"admin_key.revoked", "admin_key.refused"},
}

// observe reports the finished request to the observer, if any.
func (a *API) observe(c echo.Context, status int, d time.Duration) {
	if a.observer == nil {
		return
	}
	route := routeOf(c)
	a.observer.ObserveRequest(c.Request().Method, route, status, d)
	if e, ok := a.eventFor(c, route, status); ok {
		a.observer.ObserveEvent(e)
	}
}

// eventFor builds the audit event of a finished request. A 401 from the
// admin check is admin.auth_failed whatever the route. Every event of a
// request authenticated with an admin key names that key (AdminKey).
func (a *API) eventFor(c echo.Context, route string, status int) (storage.AuditEvent, bool) {
	reason, _ := c.Get(ctxReason).(string)
	e := storage.AuditEvent{
		At:        a.now(),
		ClientID:  clientIDForAudit(c),
		Remote:    c.RealIP(),
		RequestID: requestID(c),
	}
	e.Serial, _ = c.Get(ctxSerial).(string)
	// The admin key that acted, by name (set only once the key was accepted).
	e.AdminKey, _ = c.Get(ctxAdminKey).(string)
	e.TargetKey, _ = c.Get(ctxTarget).(string)
	if reason == "bad_admin_key" || reason == "no_admin_key" {
		e.Type, e.Reason, e.ClientID = "admin.auth_failed", reason, ""
		return e, true
	}
	types, ok := eventTypes[c.Request().Method+" "+route]
	if !ok {
		return e, false
	}
	if status < 400 {
		e.Type = types[0]
		if t, ok := c.Get(ctxEvent).(string); ok {
			e.Type = t
		}
	} else {
		e.Type = types[1]
		e.Reason = cmp.Or(reason, reasonForStatus(status))
	}
	if e.Type == "client.created" || e.Type == "client.changed" || e.Type == "client.deleted" ||
		e.Type == "client.disabled" || e.Type == "client.enabled" || e.Type == "enrollment_token.minted" {
		if id := c.Param("id"); id != "" && certs.ValidClientID(id) {
			e.ClientID = id
		}
	}
	return e, e.Type != ""
}

// clientIDForAudit is the client id the handler recorded, if it is a
// well-formed one: a refused request's claimed id is attacker input, kept
// for the trail only when it cannot carry anything but an id.
func clientIDForAudit(c echo.Context) string {
	id, _ := c.Get(ctxClientID).(string)
	if id == "admin" || certs.ValidClientID(id) {
		return id
	}
	if id != "" {
		return "(invalid)"
	}
	return ""
}
