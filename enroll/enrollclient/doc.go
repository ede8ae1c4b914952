// Package enrollclient is the client side of certbound enrollment (SPEC §7,
// §11): it turns a one-time enrollment token into a key and an X.509-SVID in a
// directory, renews that certificate over mutual TLS before it expires, and
// hands out tls.Configs and an http.Client that always present the current
// certificate, without a restart.
//
// # Files
//
// An identity directory (0700) holds three files:
//
//	key.pem   the private key, PKCS#8 PEM, mode 0600
//	cert.pem  the leaf certificate followed by the intermediate
//	ca.pem    the root certificate, the trust anchor pinned at enrollment
//
// # Trust on first use, pinned
//
// [Enroll] fetches GET /v1/roots over a TLS connection that verifies nothing,
// keeps only the root whose SHA-256 fingerprint equals the one the operator
// pinned (compared in constant time) and then talks to the server only over
// connections verified against that root. When no root matches it returns
// [ErrFingerprintMismatch] before the enrollment token has been sent anywhere.
// Renewal and everything after it trusts ca.pem and nothing else.
//
// # Talking to certbound, and to services
//
// Service certificates and certbound's own TLS certificate come from the same
// CA, so every connection this package makes to certbound also requires
// certbound's server identity (certs.VerifyServerConnection: the URI SAN
// spiffe://<trust-domain>/certbound/server), checked at the handshake, before
// the token or a CSR is written; on the unverified bootstrap connection it is
// checked as soon as the pinned root is known. A service answering in
// certbound's place, whatever names its certificate carries, gets nothing;
// the error wraps certs.ErrNotCertboundServer.
//
// To call another service, [Renewer.HTTPClientFor] and
// [Renewer.ClientTLSConfigFor] accept only a server whose certificate chains
// to the pinned root and carries the given SPIFFE ID; the host name is not
// used, so services need no DNS names ([ErrServerIDMismatch] otherwise).
// [Renewer.HTTPClient] checks only the chain and the host name.
//
// # Crash safety
//
// Every renewal creates a new key (the server refuses to re-certify the old
// one). Two files must then change together, and no file system renames two
// files at once, so the update is ordered:
//
//  1. write the new key to key.pem.next (atomically, 0600);
//  2. write the new chain to cert.pem (atomically);
//  3. rename key.pem.next over key.pem.
//
// A crash before step 2 leaves the old key and certificate, which still
// match; the stray key.pem.next is ignored and overwritten by the next
// renewal. A crash between steps 2 and 3 leaves a cert.pem that matches
// key.pem.next, not key.pem: [Load] notices, checks that key.pem.next
// matches, and finishes step 3 itself. So Load always returns a key and
// certificate that belong together, or an error ([ErrKeyMismatch]); it never
// deletes a file. Each single write goes through certs.WriteFileAtomic
// (temporary file, fsync, rename, fsync of the directory).
//
// Any number of processes may Load and watch one directory, but only one
// should renew it: two renewers racing on the same directory can leave
// key.pem and cert.pem apart until the next renewal.
//
// # Renewal
//
// A [Renewer] renews at 2/3 of the certificate's lifetime, moved by a random
// jitter of up to ±5 % of the lifetime (never past expiry), retries failures
// with capped exponential backoff, waits at least as long as a 429 response's
// Retry-After asks, and adopts a newer certificate that another process wrote
// into the directory. Its [Renewer.ClientTLSConfig], [Renewer.ServerTLSConfig]
// and [Renewer.HTTPClient] read the current identity through an atomic
// pointer on every handshake.
//
// The package never logs, never prints a token or key, keeps no package-level
// state and imports no certbound package but certs. Errors wrap the sentinels
// in errors.go; a refusal by the server is a *[ServerError].
package enrollclient
