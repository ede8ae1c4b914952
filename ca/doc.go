// Package ca is certbound's built-in certificate authority (SPEC §2).
//
// A CA directory holds a self-signed root and an intermediate, both P-256 and
// valid for ten years:
//
//	root.crt          0644  trust anchor handed to clients (GET /v1/roots)
//	root.key          0600  needed only by Bootstrap; may be moved offline
//	intermediate.crt  0644  issues every leaf
//	intermediate.key  0600  the only key the server needs, optionally
//	                        passphrase-encrypted (PKCS #8, PBES2)
//
// [Bootstrap] creates the directory once; [New] loads it and never reads
// root.key, so the root key can be removed after bootstrap. [NewMaterial]
// makes the same CA as PEM bytes in memory ([Material]) and [New] loads
// those too (Config.Material): that is how replicas on a shared database
// share one CA, the server storing the bytes (keys encrypted) in the database.
//
// Guarantees:
//   - Issuance policy is in profile.go, one function per certificate kind. A
//     CSR contributes its public key and nothing else: [LeafRequest] has no
//     field that could carry a requested extension, subject or validity.
//   - Leaves are X509-SVIDs: exactly one URI SAN spiffe://<trust-domain>/<id>,
//     CN=<id>, cA=FALSE, digitalSignature (+keyEncipherment for RSA),
//     serverAuth+clientAuth, a 128-bit serial (the time, then 80 random bits:
//     certs.NewSerial), NotBefore back-dated one minute, NotAfter never
//     beyond the intermediate's, AKI and SKI set.
//   - [Authority.VerifyClient] is the only way certbound turns certificates a
//     TLS peer presented into an identity ([Peer], which cannot be built
//     elsewhere). It verifies the chain with crypto/x509 against this CA's root
//     only (RFC 8705 §7.4, §7.5), requires the clientAuth usage, uses the
//     injected clock, and asks a [StatusSource] about revocation and the
//     client's status on every call.
//   - An [Authority] is immutable after New and safe for concurrent use.
//
// Errors wrap the sentinels in errors.go; compare with errors.Is and
// errors.As. No error message carries key material or a password.
//
// The package never talks to storage or HTTP itself: status lookups come
// through the StatusSource the caller supplies, and recording issued
// certificates is the caller's job.
package ca
