-- Every issued leaf certificate: serial, client, fingerprint, validity,
-- renewal lineage, revocation, first use, clone mark. Certificate bodies are
-- not kept.
CREATE TABLE certificates (
    serial            TEXT COLLATE "C" PRIMARY KEY,             -- lowercase hex
    client_id         TEXT COLLATE "C" NOT NULL,                -- kept after the client is deleted, for the record
    fingerprint       TEXT NOT NULL,                -- hex SHA-256 of the DER
    not_before        BIGINT NOT NULL,
    not_after         BIGINT NOT NULL,
    renewed_from      TEXT,                         -- serial this one replaced, NULL for an enrollment
    superseded_by     TEXT,                         -- serial that replaced this one
    revoked_at        BIGINT,
    revocation_reason TEXT NOT NULL DEFAULT '',
    created_at        BIGINT NOT NULL,
    -- When the certificate first authenticated a request (a token request or
    -- a renewal); NULL: not seen yet. Clone detection's evidence.
    first_used_at     BIGINT,
    -- The refused certificate whose re-presentation marked this lineage
    -- suspect (enroll/clone.go); NULL: not suspect.
    clone_suspect_of  TEXT
);
CREATE INDEX certificates_client ON certificates(client_id, not_after);
-- The fingerprint is looked up only for revoked or marked certificates, so
-- only those are indexed by it (a full index on a SHA-256 costs every
-- enrollment an insert into a random leaf).
CREATE INDEX certificates_revoked ON certificates(revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX certificates_revoked_fingerprint ON certificates(fingerprint) WHERE revoked_at IS NOT NULL;
CREATE INDEX certificates_clone_suspect ON certificates(client_id) WHERE clone_suspect_of IS NOT NULL;
CREATE INDEX certificates_clone_suspect_fingerprint ON certificates(fingerprint) WHERE clone_suspect_of IS NOT NULL;
CREATE INDEX certificates_not_after ON certificates(not_after);
