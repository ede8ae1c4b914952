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
	e.GET("/v1/health", a.health)
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

	// Admin API (SPEC §6), authenticated by an admin key.
	admin := e.Group("/v1", auth, a.requireAdmin)
	admin.POST("/clients", a.createClient)
	admin.GET("/clients", a.listClients)
	admin.GET("/clients/:id", a.getClient)
	admin.PATCH("/clients/:id", a.patchClient)
	admin.DELETE("/clients/:id", a.deleteClient)
	admin.POST("/clients/:id/enrollment-tokens", a.createEnrollToken)
	admin.GET("/certificates", a.listCertificates)
	admin.POST("/certificates/:serial/revoke", a.revokeCertificate)
	admin.POST("/keys/rotate", a.rotateKeys)
	admin.GET("/audit", a.listAudit)
}
