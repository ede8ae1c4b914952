// Package verifyecho is the echo adapter of package verify: middleware that
// lets a request through only with a valid, certificate-bound certbound access
// token that grants the required scopes.
//
// It adds no rules of its own. Token and certificate are taken, checked and
// refused exactly as verify.RequireScopes does it, through
// verify.Verifier.Authorize and verify.Verifier.WriteError, so both
// frameworks answer with the same statuses, RFC 6750 challenges and JSON
// bodies. The verified claims are in the request's context, where
// verify.ClaimsFromContext (and Claims here) find them; handlers wrapped with
// echo.WrapHandler see them too.
//
// It never reads a token from the query or a form, and never trusts a
// certificate header unless the verifier was configured with a
// verify.TrustedProxy.
package verifyecho
