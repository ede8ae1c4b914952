// Package calendar is the example Calendar Service of the seed guide's Step 7,
// the resource server: POST /events creates an event for a caller whose access
// token grants "event.create" for the audience "event" and is bound to the
// client certificate of the caller's own TLS connection (RFC 8705 §3).
//
// It is example code written only against certbound's public SDK
// (tokenex/verify and tokenex/verify/verifyecho), as a service outside this
// repository would write it. Events live in memory; the point is the check at
// the door, not the calendar.
//
// What a caller sees (RFC 6750 §3): no token → 401 with a bare Bearer
// challenge; a token that is invalid, expired, for another audience, or bound
// to another certificate (a copied token) → 401 invalid_token; a valid token
// without "event.create" → 403 insufficient_scope; a body without a title
// or date → 400; otherwise 201 {"message": "Event created successfully!", ...}.
package calendar
