// Package server wires certbound together: it prepares the data directory
// on first start (CA, database, admin key), builds the domain services and
// the HTTP API, serves HTTPS, and shuts down gracefully.
//
// Data directory layout (0700):
//
//	ca/root.crt, ca/root.key            the root; root.key may be moved offline
//	ca/intermediate.crt, .key           the issuing CA (key 0600)
//	certbound.db                        SQLite (0600)
//	admin.key                           the bootstrap admin API key (0600)
//
// The server's own TLS certificate is issued by the intermediate at start and
// renewed in memory before it expires; it is never written to disk.
//
// Open refuses a data dir or a key file (ca/*.key, admin.key) or database that
// group or others can access (ErrInsecurePermissions, with the chmod that
// fixes it). The listener speaks TLS 1.2+ with AEAD suites only and has read,
// write, idle and header timeouts and a header size limit (Config). Every
// certificate authentication goes through enroll's recording verifier, so
// clone detection knows which certificates have been used.
package server
