// Package servererror decodes the error responses of certbound's server for
// the SDK packages (enroll/enrollclient, tokenex/tokenclient): the JSON body
// {"error", "error_description", "error_uri"} of SPEC §5 and RFC 6749 §5.2,
// and the Retry-After header of RFC 9110 §10.2.3. Each SDK keeps its own
// public error type and fills it from a Response.
//
// Guarantees: a hostile or broken server cannot put anything but printable
// ASCII of bounded length into a decoded field (RFC 6749 §5.2 allows no more
// in an error description), nor ask for a wait longer than MaxRetryAfter.
// A body that is not such JSON decodes to empty fields, never to an error.
//
// It does no I/O, keeps no state and imports no certbound package.
package servererror
