-- Clone lineage (enroll/clone.go). When a certificate that was already
-- renewed is presented for renewal again and its successor has not been used
-- yet, the refusal cannot tell a lost renewal response from an attacker who
-- renewed first and waits. The successor and every later descendant are then
-- marked suspect, naming the refused certificate; the first later use of a
-- marked certificate (a token, a renewal, the introspection of a token bound
-- to it) applies --on-clone, and the marks of the client are cleared when
-- the client is disabled for it. NULL: not suspect.
ALTER TABLE certificates ADD COLUMN clone_suspect_of TEXT;

-- Few rows ever carry a mark, so both indexes stay tiny: one to clear a
-- client's marks, one for introspection, which knows the certificate by
-- its fingerprint only.
CREATE INDEX certificates_clone_suspect ON certificates(client_id) WHERE clone_suspect_of IS NOT NULL;
CREATE INDEX certificates_clone_suspect_fingerprint ON certificates(fingerprint) WHERE clone_suspect_of IS NOT NULL;
