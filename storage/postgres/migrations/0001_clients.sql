-- Keys and ids are COLLATE "C": they order and page byte by byte, as in
-- SQLite, whatever the database's default collation.
--
-- One row per registered service. The same columns as SQLite's clients
-- table (storage/sqlite/migrations), so that records copy across backends
-- as they are: times are Unix seconds (BIGINT), lists JSON or
-- space-separated TEXT, hashes BYTEA.
CREATE TABLE clients (
    id               TEXT COLLATE "C" PRIMARY KEY,
    name             TEXT NOT NULL DEFAULT '',
    scopes           TEXT NOT NULL DEFAULT '',      -- space-separated, RFC 6749 §3.3
    audiences        TEXT NOT NULL DEFAULT '[]',    -- JSON array; the first is the default
    grant_types      TEXT NOT NULL DEFAULT '["client_credentials"]',
    auth_method      TEXT NOT NULL,
    san_uri          TEXT NOT NULL DEFAULT '',      -- tls_client_auth_san_uri
    thumbprints      TEXT NOT NULL DEFAULT '[]',    -- self_signed_tls_client_auth: x5t#S256 values
    self_signed_pem  TEXT NOT NULL DEFAULT '',      -- the registered self-signed certificates, PEM
    secret_hash      BYTEA,                         -- SHA-256 of the client secret, secret methods only
    access_token_ttl BIGINT NOT NULL DEFAULT 0,     -- seconds; 0 = server default
    disabled         BOOLEAN NOT NULL DEFAULT false,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    -- Random bytes set when the record is created and never changed: tells
    -- this record from an earlier one of the same id (access tokens carry it).
    generation       BYTEA NOT NULL DEFAULT ''::bytea
);
