// Package httpapi is certbound's HTTP surface and the only server-side code
// that imports echo. Handlers are adapters: they bind the request, call one
// domain method and render the result; policy lives in the domain packages.
//
// routes.go lists every route on one screen; errors.go is the one table that
// turns domain errors into status codes and error codes (SPEC §5); peer.go is
// the only place that reads a TLS peer's certificates, and it hands them,
// unverified, to ca.VerifyClient or tokenex.
//
// It never logs a secret: request bodies are not logged, errors are logged by
// their classification, and secrets are of type secret.Secret.
package httpapi
