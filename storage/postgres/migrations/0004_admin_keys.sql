-- Named admin API keys, by the SHA-256 of each. Rows are never deleted: a
-- revoked key keeps its name, so the audit trail's key names stay unambiguous.
CREATE TABLE admin_keys (
    hash         BYTEA PRIMARY KEY,                 -- SHA-256 of the key
    name         TEXT COLLATE "C" NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,                            -- Unix seconds; NULL: never
    last_used_at BIGINT,                            -- written at most once a minute per key
    revoked_at   BIGINT                             -- NULL: not revoked
);
CREATE UNIQUE INDEX admin_keys_name ON admin_keys(name);
