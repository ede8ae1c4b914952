package storage

import "context"

// CertificateByFingerprint returns the record of the certificate whose DER
// has this hex SHA-256 (certs.Fingerprint), or ErrNotFound. tokenex uses it to
// find the certificate a bound token's cnf.x5t#S256 names (the same digest,
// base64url-encoded).
func (db *DB) CertificateByFingerprint(ctx context.Context, fingerprint string) (Certificate, error) {
	return scanCertificate(db.read.QueryRowContext(ctx,
		`SELECT `+certificateColumns+` FROM certificates WHERE fingerprint = ?`, fingerprint))
}
