// Package storage is what every certbound database promises, whichever
// backend keeps it: the record types (Client, EnrollToken, Certificate,
// AdminKey, SigningKey, AuditEvent, …), the sentinel errors, and Store, the
// one interface the server's consumers are served through. It holds no
// database code: storage/sqlite (the embedded default) and storage/postgres
// (several replicas on one database) implement Store, and storagetest.Run
// holds both to the same promises:
//
//   - Single use: of any number of concurrent RedeemEnrollToken calls for
//     one token, across every process on the database, exactly one reaches
//     its IssueFunc and records a certificate; the others get ErrNotFound
//     (or ErrConflict). Of concurrent RenewCertificate calls for one
//     certificate exactly one records a successor; the others get
//     ErrConflict. An IssueFunc or RenewFunc error leaves nothing written.
//   - No lost update: ModifyClient's change always sees the latest record.
//   - Fail closed: an unknown serial is revoked (CertificateRevoked), an
//     unknown client disabled (ClientDisabled); a revocation or a disabled
//     client that returned is seen by every later call of this process, and
//     by other processes within the backend's stated staleness bound
//     (NotifiedStaleness, MaxStaleness).
//   - Errors: ErrNotFound and ErrConflict (and the errors that wrap them:
//     the admin key errors), ErrSuspectLineage, and ErrUnavailable when the
//     database cannot be reached — never a driver's error for those cases.
//   - Secrets: tokens, admin keys and client secrets are stored as SHA-256
//     hashes only; the CA's keys (SharedCA) only encrypted.
//
// Times are stored as Unix seconds (audit events as milliseconds). The
// records are plain structs; policy (who may do what) lives in the domain
// packages.
package storage
