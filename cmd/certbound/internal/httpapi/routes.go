package httpapi

import (
	"github.com/labstack/echo/v4"
)

// routes is the whole HTTP surface of certbound on one screen (SPEC §4-§9).
func (a *API) routes(e *echo.Echo) {
	e.Use(a.requestLog, a.recoverPanic, bodyLimit)
	// Every route that takes credentials counts its source's failures
	// (ratelimit.go); per-client token limits apply inside tokenex.
	auth := a.limitAuthFailures

	// Health and enrollment (SPEC §4, §7).
	e.GET("/v1/health", a.health)   // liveness: never touches the database
	e.GET("/v1/ready", a.readiness) // readiness: the database answers, the CA is loaded (SPEC §13)
	e.GET("/v1/roots", a.roots)
	e.POST("/v1/enroll", a.enrollCertificate, a.limitEnroll, auth)
	e.POST("/v1/renew", a.renewCertificate, a.limitEnroll, auth)

	// OAuth 2.0 (SPEC §8): client credentials over mTLS, RFC 8705 binding.
	e.POST("/oauth2/token", a.token, auth)
	e.POST("/oauth2/introspect", a.introspect, auth)
	for _, m := range []string{"GET", "PUT", "PATCH", "DELETE"} {
		e.Add(m, "/oauth2/token", oauthMethodNotAllowed)
		e.Add(m, "/oauth2/introspect", oauthMethodNotAllowed)
	}
	e.GET("/.well-known/oauth-authorization-server", a.metadata)
	e.GET("/.well-known/jwks.json", a.jwks)
	e.GET("/auth/jwt/jwks.json", a.jwks)

	// The seed guide's routes (SPEC §9), translated onto the same calls.
	e.POST("/recipe/oauth/clients", a.seedCreateClient, auth, a.requireAdmin)
	e.POST("/auth/oauth/token", a.seedToken, auth)

	// Admin API (SPEC §6), authenticated by an admin key. Per route, not an
	// echo Group: a Group's middleware also guards every unknown path under
	// its prefix, which would answer 401 where 404 or 405 is right.
	admin := []echo.MiddlewareFunc{auth, a.requireAdmin}
	e.POST("/v1/clients", a.createClient, admin...)
	e.GET("/v1/clients", a.listClients, admin...)
	e.GET("/v1/clients/:id", a.getClient, admin...)
	e.PATCH("/v1/clients/:id", a.patchClient, admin...)
	e.DELETE("/v1/clients/:id", a.deleteClient, admin...)
	e.POST("/v1/clients/:id/enrollment-tokens", a.createEnrollToken, admin...)
	e.GET("/v1/certificates", a.listCertificates, admin...)
	e.POST("/v1/certificates/:serial/revoke", a.revokeCertificate, admin...)
	e.POST("/v1/keys/rotate", a.rotateKeys, admin...)
	e.GET("/v1/audit", a.listAudit, admin...)
	e.POST("/v1/admin-keys", a.createAdminKey, admin...) // SPEC §14
	e.GET("/v1/admin-keys", a.listAdminKeys, admin...)
	e.DELETE("/v1/admin-keys/:name", a.revokeAdminKey, admin...)
}
