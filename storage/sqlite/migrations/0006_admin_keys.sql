-- Admin keys have names, may expire, record their last use and can be
-- revoked (SPEC §14). Rows are never deleted: a revoked key keeps its name,
-- so that the audit trail's key names stay unambiguous.
ALTER TABLE admin_keys ADD COLUMN expires_at INTEGER;   -- Unix seconds; NULL: never
ALTER TABLE admin_keys ADD COLUMN last_used_at INTEGER; -- Unix seconds; written at most once a minute per key
ALTER TABLE admin_keys ADD COLUMN revoked_at INTEGER;   -- Unix seconds; NULL: not revoked

-- Names were not unique before. Only `bootstrap` was ever written, once, but
-- a twin would keep the name of the oldest row and the others get a suffix.
UPDATE admin_keys SET name = name || '-' || rowid
    WHERE rowid NOT IN (SELECT min(rowid) FROM admin_keys GROUP BY name);
CREATE UNIQUE INDEX admin_keys_name ON admin_keys(name);

-- Which admin key (by name) made the request an event records, and which
-- admin key an admin_key.* event is about. '' when none.
ALTER TABLE audit_events ADD COLUMN admin_key TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_events ADD COLUMN target_key TEXT NOT NULL DEFAULT '';
