// Package httpapi is certbound's HTTP surface and the only server-side code
// that imports echo. Handlers are adapters: they bind the request, call one
// domain method and render the result; policy lives in the domain packages.
//
// routes.go lists every route on one screen; errors.go is the one table that
// turns domain errors into status codes and error codes (SPEC §5); peer.go is
// the only place that reads a TLS peer's certificates, and it hands them,
// unverified, to ca.VerifyClient or tokenex.
//
// Hostile input stops here: bodies over 64 KiB are 413, JSON is strict
// (bind.go: one object, valid UTF-8, no unknown or repeated member, bounded
// depth), OAuth forms are strict (oauth.go), a panic is a logged 500, and
// ratelimit.go limits enrollment per source, failed authentications per
// source and — through tokenex's Admit hook — token requests per
// authenticated client, answering 429 with Retry-After. A possible cloned
// certificate (enroll.CloneError) is logged at WARN with both serials.
//
// It never logs a secret: request bodies are not logged, errors are logged by
// their classification, and secrets are of type secret.Secret.
package httpapi
