// Package sqlite is certbound's embedded database, the default backend of
// storage.Store, and the only user of database/sql: SQLite through
// modernc.org/sqlite (pure Go, no cgo). One server process owns the
// database file (the data directory's lock says so); tools next to it only
// read (OpenReadOnly, BackupTo).
//
// Schema (migrations/*.sql, applied in order by PRAGMA user_version):
//   - clients: one row per service; scopes, audiences, auth method, and for
//     secret methods only the SHA-256 of the secret.
//   - enroll_tokens: one-time enrollment tokens, keyed by the SHA-256 of the
//     token; the token itself is never stored.
//   - certificates: every issued leaf (serial, client, fingerprint, validity,
//     renewal lineage, revocation, first use). Certificate bodies are not kept.
//   - admin_keys: named admin API keys: the SHA-256 of each, expiry, last use
//     (written at most once a minute) and revocation; rows are never deleted.
//   - signing_keys: the token-signing keys (PKCS#8 PEM) and when each retires.
//
// Concurrency: WAL journal, synchronous=NORMAL (durable at checkpoints, never
// corrupt), checkpoints run by a goroutine of their own instead of inside a
// commit (checkpoint.go), a busy timeout, one writer connection whose
// transactions start with BEGIN IMMEDIATE, and a separate pool of read-only
// connections, so reads never wait for the writer and writers never deadlock
// upgrading a lock.
//
// Caching (statuscache.go): GetClient, ClientDisabled and CertificateRevoked,
// the reads every authenticated request makes, are answered from memory
// while no write of this process that could change them (a client changed,
// disabled or deleted; a certificate revoked or its record pruned) has
// returned since they were read. The server is the database's only writer,
// so the cache is never stale: its staleness bound is 0.
//
// Guarantees: the single-use operations (RedeemEnrollToken, RenewCertificate)
// consume and record atomically, so a crash or an error in the caller's issue
// function leaves nothing half done. Concurrent ones share a write
// transaction (group commit, batch.go), each inside its own savepoint, and
// none returns before that transaction committed. The records are plain
// structs; policy (who may do what) lives in the domain packages.
//
// Audits (snapshot.go): Snapshot digests every table so a test can show a
// refused request changed nothing; CheckConsistency runs integrity_check and
// the lineage rules a crash must not break; OpenReadOnly opens a live
// database next to the server without ever writing.
package sqlite
