// Package enroll bootstraps and renews service certificates.
//
// The protocol in short:
//  1. An admin mints a one-time enrollment token for a client (MintToken).
//     The token is shown once; only its SHA-256 is stored.
//  2. The service generates a key, sends a CSR with the token (Enroll). The
//     CSR is parsed and checked first, with no side effects, so a bad CSR
//     does not burn the token. Then redeeming the token, signing the leaf and
//     recording it happen in one database transaction: of any number of
//     concurrent redemptions exactly one gets a certificate.
//  3. Before the certificate expires the service renews it over mTLS with a
//     CSR for a new key (Renew). The identity comes from the verified TLS
//     peer (ca.VerifyClient), never from the CSR, and each certificate can be
//     renewed once: presenting a certificate that was already renewed is
//     refused as a possible clone (*CloneError). What else happens is the
//     CloneAction: by default the client is disabled when the successor has
//     been used — proof that two parties hold the lineage — and a lost
//     renewal response (a successor nobody ever used) is only refused; that
//     successor's lineage is marked suspect, and its first later use (a
//     token, a renewal, the introspection of a token bound to it) disables
//     the client, so an attacker who renewed first cannot wait it out.
//     RecordingVerifier records each certificate's first use for this (a
//     renewal records it in its own transaction).
//
// A CSR contributes its public key and, for DNS names the token allows, the
// names it asks for; every other field of the certificate comes from the
// ca profile. Unknown, expired and used tokens fail with the same error.
package enroll
