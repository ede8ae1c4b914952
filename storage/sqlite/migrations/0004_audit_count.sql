-- Frequent events (tokens issued, requests refused) are recorded as one row
-- per kind, client, reason and source per flush window, with how many there were.
ALTER TABLE audit_events ADD COLUMN count INTEGER NOT NULL DEFAULT 1;
