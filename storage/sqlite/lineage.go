package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/certbound/certbound/storage"
)

// Clone lineage marks (migration 0007). The policy — when to mark, what a
// use of a marked certificate costs the client — is enroll's; these are the
// records it keeps.

// MarkLineageSuspect marks the certificate successor and every certificate
// renewed from it, directly or not, as suspect because refused (the
// certificate they descend from) was presented for renewal again. A
// certificate already marked keeps its first mark. It returns how many
// records it marked; an unknown successor marks nothing.
func (db *DB) MarkLineageSuspect(ctx context.Context, successor, refused string) (int64, error) {
	defer db.cache.invalidate()
	res, err := db.write.ExecContext(ctx, `WITH RECURSIVE lineage(serial) AS (
			SELECT ?
			UNION
			SELECT c.superseded_by FROM certificates c JOIN lineage l ON c.serial = l.serial
			WHERE c.superseded_by IS NOT NULL)
		UPDATE certificates SET clone_suspect_of = ?
		WHERE serial IN (SELECT serial FROM lineage) AND clone_suspect_of IS NULL`, successor, refused)
	if err != nil {
		return 0, err
	}
	db.committed()
	return res.RowsAffected()
}

// CertificateSuspect reports whether the certificate serial carries a
// suspect mark. An unknown serial is not suspect (CertificateRevoked refuses
// it). Answers come from the status cache when current, with the
// revocation read by the same query.
func (db *DB) CertificateSuspect(ctx context.Context, serial string) (bool, error) {
	st, err := db.certificateStatus(ctx, serial)
	return st.suspect, err
}

// SuspectByFingerprint returns the marked certificate whose DER has this hex
// SHA-256 (certs.Fingerprint), for introspection, which knows a bound token's
// certificate by its thumbprint only. ok is false when no marked certificate
// has it (only marked certificates are indexed by it for this).
func (db *DB) SuspectByFingerprint(ctx context.Context, fingerprint string) (c storage.SuspectCertificate, ok bool, err error) {
	err = db.read.QueryRowContext(ctx, `SELECT serial, client_id, clone_suspect_of FROM certificates
		WHERE fingerprint = ? AND clone_suspect_of IS NOT NULL`, fingerprint).Scan(&c.Serial, &c.ClientID, &c.SuspectOf)
	if errors.Is(err, sql.ErrNoRows) {
		return storage.SuspectCertificate{}, false, nil
	}
	return c, err == nil, err
}

// DisableClientAudited disables the client at now because the system decided so
// (clone detection), not an administrator: in one transaction it sets the
// flag, clears the suspect marks of the client's certificates (the decision
// they deferred is made), and appends a client.disabled audit row with
// reason and serial (the certificate that gave it away), so that the trail
// has the change whoever made it. A client that is already disabled is left
// as it is and gets no row. Unknown → ErrNotFound.
func (db *DB) DisableClientAudited(ctx context.Context, id, serial, reason string, now time.Time) error {
	defer db.cache.invalidate()
	return db.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE clients SET disabled = 1, updated_at = ? WHERE id = ? AND disabled = 0`, unix(now), id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err != nil {
				return err
			}
			var one int
			return translate(scanRow(tx.QueryRowContext(ctx, `SELECT 1 FROM clients WHERE id = ?`, id), &one))
		}
		if _, err := tx.ExecContext(ctx, `UPDATE certificates SET clone_suspect_of = NULL
			WHERE client_id = ? AND clone_suspect_of IS NOT NULL`, id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO audit_events (at, type, client_id, serial, reason) VALUES (?, 'client.disabled', ?, ?, ?)`,
			now.UnixMilli(), id, serial, reason)
		return err
	})
}
