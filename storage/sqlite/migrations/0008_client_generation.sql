-- A client record's generation: random bytes set when the record is
-- created and never changed. Access tokens carry it (claim client_gen), so
-- that a token of a deleted client does not come back to life at
-- introspection when a client of the same id is registered later: the id
-- is the same, the generation is not. A token's iat (whole seconds) cannot
-- tell two records created within the same second apart; this can.
-- Existing records get one now; tokens issued before this migration carry
-- none and are checked against the record's created_at instead.
ALTER TABLE clients ADD COLUMN generation BLOB NOT NULL DEFAULT x'';
UPDATE clients SET generation = randomblob(16);
