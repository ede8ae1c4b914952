-- The CA every replica serves (storage.SharedCA): both certificates and both
-- private keys, the keys PKCS #8 encrypted with the CA password, which the
-- database never sees. At most one row.
CREATE TABLE ca_material (
    id                   BOOLEAN PRIMARY KEY DEFAULT true CHECK (id),
    root_cert_pem        BYTEA NOT NULL,
    root_key_pem         BYTEA NOT NULL,
    intermediate_cert_pem BYTEA NOT NULL,
    intermediate_key_pem BYTEA NOT NULL,
    created_at           BIGINT NOT NULL
);
