-- One-time enrollment tokens, known by the SHA-256 of the token only.
CREATE TABLE enroll_tokens (
    hash        BYTEA PRIMARY KEY,                  -- SHA-256 of the token
    client_id   TEXT COLLATE "C" NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    dns_names   TEXT NOT NULL DEFAULT '[]',         -- JSON array of names the CSR may ask for
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT,
    used_serial TEXT
);
CREATE INDEX enroll_tokens_client ON enroll_tokens(client_id);
