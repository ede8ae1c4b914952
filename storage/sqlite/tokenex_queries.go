package sqlite

import "context"

// FingerprintRevoked reports whether certbound issued a certificate whose DER
// has this hex SHA-256 (certs.Fingerprint) and has revoked it. tokenex uses it
// for the certificate a bound token's cnf.x5t#S256 names (the same digest,
// base64url-encoded). Only revoked certificates are indexed by fingerprint
// (migration 0005), so the query must keep the index's condition.
func (db *DB) FingerprintRevoked(ctx context.Context, fingerprint string) (bool, error) {
	var revoked bool
	err := db.read.QueryRowContext(ctx, fingerprintRevokedQuery, fingerprint).Scan(&revoked)
	return revoked, err
}

// fingerprintRevokedQuery repeats the partial index's WHERE, which is what
// lets SQLite use certificates_revoked_fingerprint for it.
const fingerprintRevokedQuery = `SELECT EXISTS (SELECT 1 FROM certificates WHERE fingerprint = ? AND revoked_at IS NOT NULL)`
