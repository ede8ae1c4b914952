// Package certs holds the X.509 building blocks every other certbound package
// shares: strict PEM and CSR parsing, the accepted key policy, SPIFFE IDs,
// the rule that tells certbound's own server certificate from a service's
// (server.go), the one spelling of a DNS name (ValidDNSName), the
// RFC 8705 "x5t#S256" thumbprint and the hex SHA-256 fingerprint, random
// serial numbers and atomic file writes for key material.
//
// Guarantees:
//   - Parsers reject anything ambiguous: a PEM input must hold exactly the
//     blocks asked for and nothing but whitespace around them; a CSR's
//     signature is checked and its key must pass [CheckPublicKey].
//   - Errors wrap the sentinels in errors.go, so callers branch with errors.Is.
//
// It never imports another certbound package, keeps no global state, and does
// no I/O outside files.go.
package certs
