package verifyecho

import (
	"slices"

	"github.com/certbound/certbound/tokenex/verify"
	"github.com/labstack/echo/v4"
)

// RequireScopes returns echo middleware with the semantics of
// verify.RequireScopes: no token → 401 with a bare challenge; an invalid,
// expired, unbound or mismatched token → 401 invalid_token; a malformed
// request → 400 invalid_request; a missing scope → 403 insufficient_scope.
// A refused request is answered here and does not reach echo's error handler.
func RequireScopes(v *verify.Verifier, scopes ...string) echo.MiddlewareFunc {
	scopes = slices.Clone(scopes)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			claims, err := v.Authorize(r, scopes...)
			if err != nil {
				v.WriteError(c.Response(), err)
				return nil
			}
			c.SetRequest(r.WithContext(verify.ContextWithClaims(r.Context(), claims)))
			return next(c)
		}
	}
}

// Claims returns the claims RequireScopes verified for this request, and
// false if there are none.
func Claims(c echo.Context) (*verify.Claims, bool) {
	return verify.ClaimsFromContext(c.Request().Context())
}
