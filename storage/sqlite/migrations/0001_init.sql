CREATE TABLE clients (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL DEFAULT '',
    scopes           TEXT NOT NULL DEFAULT '',      -- space-separated, RFC 6749 §3.3
    audiences        TEXT NOT NULL DEFAULT '[]',    -- JSON array; the first is the default
    grant_types      TEXT NOT NULL DEFAULT '["client_credentials"]',
    auth_method      TEXT NOT NULL,
    san_uri          TEXT NOT NULL DEFAULT '',      -- tls_client_auth_san_uri
    thumbprints      TEXT NOT NULL DEFAULT '[]',    -- self_signed_tls_client_auth: x5t#S256 values
    self_signed_pem  TEXT NOT NULL DEFAULT '',      -- the registered self-signed certificates, PEM
    secret_hash      BLOB,                          -- SHA-256 of the client secret, secret methods only
    access_token_ttl INTEGER NOT NULL DEFAULT 0,    -- seconds; 0 = server default
    disabled         INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
) STRICT;

CREATE TABLE enroll_tokens (
    hash        BLOB PRIMARY KEY,                   -- SHA-256 of the token
    client_id   TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    dns_names   TEXT NOT NULL DEFAULT '[]',         -- JSON array of names the CSR may ask for
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER,
    used_serial TEXT
) STRICT;
CREATE INDEX enroll_tokens_client ON enroll_tokens(client_id);

CREATE TABLE certificates (
    serial            TEXT PRIMARY KEY,             -- lowercase hex
    client_id         TEXT NOT NULL,                -- kept after the client is deleted, for the record
    fingerprint       TEXT NOT NULL UNIQUE,         -- hex SHA-256 of the DER
    not_before        INTEGER NOT NULL,
    not_after         INTEGER NOT NULL,
    renewed_from      TEXT,                         -- serial this one replaced, NULL for an enrollment
    superseded_by     TEXT,                         -- serial that replaced this one
    revoked_at        INTEGER,
    revocation_reason TEXT NOT NULL DEFAULT '',
    created_at        INTEGER NOT NULL
) STRICT;
CREATE INDEX certificates_client ON certificates(client_id, not_after);
CREATE INDEX certificates_revoked ON certificates(revoked_at) WHERE revoked_at IS NOT NULL;

CREATE TABLE admin_keys (
    hash       BLOB PRIMARY KEY,                    -- SHA-256 of the key
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE signing_keys (
    kid           TEXT PRIMARY KEY,                 -- RFC 7638 thumbprint
    alg           TEXT NOT NULL,
    private_pem   TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    retired_at    INTEGER,                          -- NULL while it signs
    publish_until INTEGER                           -- stays in the JWKS until then
) STRICT;
