-- Append-only trail of security events. Never holds a secret: ids, serials,
-- reasons and addresses only.
CREATE TABLE audit_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         INTEGER NOT NULL,              -- Unix milliseconds
    type       TEXT NOT NULL,                 -- e.g. certificate.issued, token.refused
    client_id  TEXT NOT NULL DEFAULT '',
    serial     TEXT NOT NULL DEFAULT '',
    reason     TEXT NOT NULL DEFAULT '',
    remote     TEXT NOT NULL DEFAULT '',
    request_id TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX audit_events_at ON audit_events(at);
CREATE INDEX audit_events_client ON audit_events(client_id, at);

-- Append-only: rows can be pruned by age (DELETE), never changed.
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
