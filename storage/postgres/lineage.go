package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/certbound/certbound/storage"
)

// Clone lineage marks. The policy — when to mark, what a use of a marked
// certificate costs the client — is enroll's; these are the records it keeps.

// sqlMarkLineage marks $1 and every certificate renewed from it, directly
// or not, as suspect of $2, keeping an earlier mark.
const sqlMarkLineage = `WITH RECURSIVE lineage(serial) AS (
		SELECT $1::text
		UNION
		SELECT c.superseded_by FROM certificates c JOIN lineage l ON c.serial = l.serial
		WHERE c.superseded_by IS NOT NULL)
	UPDATE certificates SET clone_suspect_of = $2
	WHERE serial IN (SELECT serial FROM lineage) AND clone_suspect_of IS NULL`

// MarkLineageSuspect marks the certificate successor and every certificate
// renewed from it, directly or not, as suspect because refused (the
// certificate they descend from) was presented for renewal again. A
// certificate already marked keeps its first mark. It returns how many
// records it marked; an unknown successor marks nothing.
//
// The walk runs again until it marks nothing: a renewal at the end of the
// lineage that committed while the walk ran (another replica's) added a
// descendant the walk's snapshot could not see. Once a pass marks nothing,
// every certificate of the lineage carries a mark, and a renewal of any of
// them waits for this transaction's row lock (RenewCertificate locks the
// row it renews) and then finds it marked.
func (db *DB) MarkLineageSuspect(ctx context.Context, successor, refused string) (int64, error) {
	defer db.cache.invalidate()
	var marked int64
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		marked = 0
		for {
			tag, err := tx.Exec(ctx, sqlMarkLineage, successor, refused)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				break
			}
			marked += tag.RowsAffected()
		}
		if marked == 0 {
			return nil
		}
		return notify(ctx, tx, storage.ChangeCertificates)
	})
	return marked, err
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
// SHA-256, for introspection; ok is false when no marked certificate has it.
func (db *DB) SuspectByFingerprint(ctx context.Context, fingerprint string) (c storage.SuspectCertificate, ok bool, err error) {
	err = db.queryRow(ctx, `SELECT serial, client_id, clone_suspect_of FROM certificates
		WHERE fingerprint = $1 AND clone_suspect_of IS NOT NULL LIMIT 1`, []any{fingerprint}, &c.Serial, &c.ClientID, &c.SuspectOf)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.SuspectCertificate{}, false, nil
	}
	return c, err == nil, err
}

// DisableClientAudited disables the client at now because the system
// decided so (clone detection), not an administrator: in one transaction it
// sets the flag, clears the suspect marks of the client's certificates, and
// appends a client.disabled audit row with reason and serial. A client that
// is already disabled (by anyone, on any replica) is left as it is and gets
// no row: the conditional UPDATE's row lock orders concurrent calls. Unknown
// → storage.ErrNotFound.
func (db *DB) DisableClientAudited(ctx context.Context, id, serial, reason string, now time.Time) error {
	defer db.cache.invalidate()
	return db.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE clients SET disabled = true, updated_at = $1 WHERE id = $2 AND NOT disabled`, unix(now), id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			var one int
			return translate(tx.QueryRow(ctx, `SELECT 1 FROM clients WHERE id = $1`, id).Scan(&one))
		}
		if _, err := tx.Exec(ctx, `UPDATE certificates SET clone_suspect_of = NULL
			WHERE client_id = $1 AND clone_suspect_of IS NOT NULL`, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO audit_events (at, type, client_id, serial, reason) VALUES ($1, 'client.disabled', $2, $3, $4)`,
			now.UnixMilli(), id, serial, reason); err != nil {
			return err
		}
		return notify(ctx, tx, storage.ChangeClients, storage.ChangeCertificates)
	})
}
