-- The fingerprint is looked up for one question only: is the certificate a
-- bound token names (cnf.x5t#S256) revoked? (RFC 7662 introspection.) So
-- only revoked certificates need to be found by it. A UNIQUE index on every
-- fingerprint made each new certificate an insert into a random leaf of an
-- index as large as the table (the key is a SHA-256), which is what a
-- million-row database paid for per enrollment; the partial index below
-- takes an entry only when a certificate is revoked. Uniqueness is kept by
-- the serial: two records with one fingerprint would be one DER, one serial.
--
-- SQLite cannot drop a column's UNIQUE constraint, so the table is rebuilt
-- (https://sqlite.org/lang_altertable.html, "other kinds of table schema
-- changes"); nothing references it by foreign key and it has no triggers.
CREATE TABLE certificates_rebuilt (
    serial            TEXT PRIMARY KEY,             -- lowercase hex
    client_id         TEXT NOT NULL,                -- kept after the client is deleted, for the record
    fingerprint       TEXT NOT NULL,                -- hex SHA-256 of the DER
    not_before        INTEGER NOT NULL,
    not_after         INTEGER NOT NULL,
    renewed_from      TEXT,                         -- serial this one replaced, NULL for an enrollment
    superseded_by     TEXT,                         -- serial that replaced this one
    revoked_at        INTEGER,
    revocation_reason TEXT NOT NULL DEFAULT '',
    created_at        INTEGER NOT NULL,
    first_used_at     INTEGER                       -- see 0002_certificate_first_use.sql
) STRICT;

INSERT INTO certificates_rebuilt (serial, client_id, fingerprint, not_before, not_after, renewed_from,
        superseded_by, revoked_at, revocation_reason, created_at, first_used_at)
    SELECT serial, client_id, fingerprint, not_before, not_after, renewed_from,
        superseded_by, revoked_at, revocation_reason, created_at, first_used_at
    FROM certificates;

DROP TABLE certificates;
ALTER TABLE certificates_rebuilt RENAME TO certificates;

CREATE INDEX certificates_client ON certificates(client_id, not_after);
CREATE INDEX certificates_revoked ON certificates(revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX certificates_revoked_fingerprint ON certificates(fingerprint) WHERE revoked_at IS NOT NULL;
