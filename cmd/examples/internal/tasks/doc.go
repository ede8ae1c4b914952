// Package tasks is the example Task Service of the seed guide's Step 7, the
// client: it gets an access token for the calendar service (scope
// "event.create", audience "event") from certbound's token endpoint over
// mutual TLS, and sends it with POST /events over mutual TLS with the same
// certificate, to which the token is bound (RFC 8705).
//
// It is example code written only against certbound's public SDK
// (enroll/enrollclient, tokenex/tokenclient, certs), as a service outside this
// repository would write it. It never logs a token; Result.Token is a
// secret.Secret that prints as [redacted].
package tasks
