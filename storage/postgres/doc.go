// Package postgres is certbound's PostgreSQL backend: several replicas of
// the server on one database (SPEC §13). It is, with storage/sqlite, the
// only user of a database driver — pgx v5 through pgxpool — and implements
// storage.Store (held to the same promises as SQLite by storagetest.Run),
// storage.ChangeFeed, storage.SharedCA and storage.Clock.
//
// # Schema
//
// migrations/*.sql, one file per table, mirror SQLite's schema: the same
// tables and columns, times as BIGINT Unix seconds, hashes BYTEA, lists as
// TEXT — so records copy and digest alike across backends — plus
// ca_material (the CA every replica serves) and certbound_schema_version
// (one row per migration applied). Open with Options.Migrate, or Migrate
// (`certbound migrate`), applies pending migrations, each in a transaction
// of its own, holding pg_advisory_lock on a connection of its own: replicas
// starting together on an empty database all come up, one having migrated.
// A schema newer than the binary knows is refused (ErrSchemaNewer); without
// Migrate, a schema behind is refused too (ErrSchemaBehind).
//
// # Connections and sizing
//
// Each DB holds a pool of Options.PoolSize connections (zero: 10; pgxpool's
// MaxConns, set explicitly) plus one connection of its own that LISTENs for
// changes (application_name certbound-listener). A database serving N
// replicas therefore needs
//
//	N × (PoolSize + 1) ≤ max_connections − superuser_reserved_connections − headroom
//
// where headroom covers backups, `psql` and migrations (one more connection
// while `certbound migrate` runs). Three replicas with the default pool take
// 33 of PostgreSQL's default 100. A request waits for a free connection of
// its replica's pool rather than failing; a connection attempt gives up
// after 5 s unless the URL sets connect_timeout.
//
// # Transactions and errors
//
// Single use is row locks under READ COMMITTED: a redemption consumes its
// token with a conditional UPDATE … RETURNING, a renewal locks the old
// certificate (SELECT … FOR UPDATE) and supersedes it with a conditional
// UPDATE; the caller's issue function runs inside that transaction, and the
// certificate is inserted before the commit. Of any number of concurrent
// redemptions of one token (or renewals of one certificate) on any replicas,
// exactly one records a certificate. A transaction that fails with a
// serialization failure (40001) or a deadlock (40P01) runs again, up to 5
// times with a short jittered pause, so an issue function may run more than
// once (each run signs anew; only the committed one is recorded and
// returned). A unique violation (23505) is storage.ErrConflict. A lost or
// refused connection (connect errors, network errors, SQLSTATE class 08 and
// 53, 57P01–57P03, a closed pool, a deadline) wraps storage.ErrUnavailable:
// the server answers 503. A pooled connection the server dropped (a
// restart, a failover) costs no caller an error: a read, or a transaction
// that failed before its COMMIT was sent, resets the pool and runs again on
// a fresh connection, so the same DB serves again as soon as the server
// accepts connections. A COMMIT whose answer was lost is not run again
// (whether it committed is unknown): that caller gets ErrUnavailable.
//
// # Coherence between replicas
//
// Every write that changes a client, a certificate's status (revocation,
// lineage mark, prune), a signing key or an admin key calls
// pg_notify('certbound_changes', kind) inside its transaction: delivered at
// commit, in commit order, to every replica's listener, which passes it to
// the status cache (statuscache.go states its staleness bound) and to the
// subscribers of Subscribe. When the listener's connection is lost the
// status cache is off (every read goes to the database) until it has
// reconnected with backoff; then subscribers get ChangeAll. ChangeAll also
// comes every storage.MaxStaleness/2.
//
// # Clock
//
// Now is the local clock plus the offset to the database server's clock,
// measured at Open (best of 5 round trips) and every minute: replicas on one
// database agree on "now", so they decide expiry and single use alike.
//
// # Never
//
// It never logs or returns the database URL's password or a value of a row
// (secret hashes, keys); the CA's keys reach it encrypted.
package postgres
