package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/certbound/certbound/storage"
)

// stateCondition is the WHERE clause of state at the unix second now, with
// its arguments; it must say what Certificate.State says.
func stateCondition(state storage.CertificateState, now int64) (string, []any) {
	switch state {
	case storage.StateRevoked:
		return "revoked_at IS NOT NULL", nil
	case storage.StateExpired:
		return "revoked_at IS NULL AND not_after <= ?", []any{now}
	case storage.StateSuperseded:
		return "revoked_at IS NULL AND not_after > ? AND superseded_by IS NOT NULL", []any{now}
	case storage.StateActive:
		return "revoked_at IS NULL AND not_after > ? AND superseded_by IS NULL", []any{now}
	}
	return "0", nil // an unknown state matches nothing
}

const certificateColumns = `serial, client_id, fingerprint, not_before, not_after, renewed_from,
	superseded_by, revoked_at, revocation_reason, created_at`

func scanCertificate(row scanner) (storage.Certificate, error) {
	var r certificateRow
	if err := scanRow(row, r.dest()...); err != nil {
		return storage.Certificate{}, err
	}
	return r.certificate(), nil
}

// certificateRow receives the certificateColumns of one row.
type certificateRow struct {
	c                         storage.Certificate
	nb, na, created           int64
	renewedFrom, supersededBy sql.NullString
	revoked                   sql.NullInt64
}

func (r *certificateRow) dest() []any {
	return []any{&r.c.Serial, &r.c.ClientID, &r.c.Fingerprint, &r.nb, &r.na, &r.renewedFrom, &r.supersededBy,
		&r.revoked, &r.c.RevocationReason, &r.created}
}

func (r *certificateRow) certificate() storage.Certificate {
	c := r.c
	c.NotBefore, c.NotAfter, c.CreatedAt = fromUnix(r.nb), fromUnix(r.na), fromUnix(r.created)
	c.RenewedFrom, c.SupersededBy = r.renewedFrom.String, r.supersededBy.String
	c.RevokedAt = fromNullUnix(r.revoked)
	return c
}

func (db *DB) insertCertificate(ctx context.Context, tx *sql.Tx, c storage.Certificate) error {
	_, err := db.txExec(ctx, tx, sqlInsertCert,
		c.Serial, c.ClientID, c.Fingerprint, unix(c.NotBefore), unix(c.NotAfter),
		sql.NullString{String: c.RenewedFrom, Valid: c.RenewedFrom != ""}, unix(c.CreatedAt))
	return translate(err)
}

// RenewCertificate records the renewal of the certificate oldSerial in one
// transaction: it reads the old record and its client, lets issue decide and
// sign (it sees revocation and SupersededBy), inserts the new record, and
// marks the old one superseded — which succeeds only once per certificate, so
// two renewals of the same certificate can never both land (ErrConflict).
// The same UPDATE records now as the old certificate's first use unless one
// is recorded (see MarkCertificateUsed): presenting it for the renewal is a
// use. An unknown serial or client → ErrNotFound; a certificate whose
// lineage is marked suspect (MarkLineageSuspect) → ErrSuspectLineage, before
// issue runs. Like RedeemEnrollToken it
// runs in a write batch.
func (db *DB) RenewCertificate(ctx context.Context, oldSerial string, now time.Time, issue storage.RenewFunc) (storage.Certificate, error) {
	var cert storage.Certificate
	gen := db.cache.generation()
	err := db.inBatch(ctx, func(ctx context.Context, tx *sql.Tx) error {
		// The old record and its client, in one statement.
		var oldRow certificateRow
		var clientRow clientRow
		var suspect bool
		if err := scanRow(db.txQueryRow(ctx, tx, sqlRenewSource, oldSerial), append(oldRow.dest(), append(clientRow.dest(), &suspect)...)...); err != nil {
			return err
		}
		if suspect {
			return storage.ErrSuspectLineage
		}
		old := oldRow.certificate()
		var err error
		if cert, err = issue(old, clientRow.client()); err != nil {
			return err
		}
		cert.RenewedFrom = old.Serial
		if err := db.insertCertificate(ctx, tx, cert); err != nil {
			return err
		}
		res, err := db.txExec(ctx, tx, sqlSupersede, cert.Serial, unix(now), old.Serial)
		if err := expectOne(res, err); errors.Is(err, storage.ErrNotFound) {
			return storage.ErrConflict
		} else {
			return err
		}
	})
	if err == nil {
		db.cache.putNewCertificate(cert.Serial, gen)
	}
	return cert, err
}

// GetCertificate returns the record for serial, or ErrNotFound.
func (db *DB) GetCertificate(ctx context.Context, serial string) (storage.Certificate, error) {
	return scanCertificate(db.read.QueryRowContext(ctx, `SELECT `+certificateColumns+` FROM certificates WHERE serial = ?`, serial))
}

// CertificateRevoked reports whether serial is revoked. An unknown serial is
// reported as revoked: certbound never accepts a certificate it has no record
// of (the rule of ca.StatusSource, checked by storagetest.StatusSource).
// Answers for known serials come from the status cache when current.
func (db *DB) CertificateRevoked(ctx context.Context, serial string) (bool, error) {
	st, err := db.certificateStatus(ctx, serial)
	return st.revoked, err
}

// certificateStatus reads what the status cache keeps of a certificate: an
// unknown serial is revoked (and not cached), a known one is read once per
// cache generation.
func (db *DB) certificateStatus(ctx context.Context, serial string) (cachedSerial, error) {
	if st, ok := db.cache.revocation(serial); ok {
		return st, nil
	}
	gen := db.cache.generation()
	var revoked sql.NullInt64
	var suspect bool
	err := db.read.QueryRowContext(ctx, `SELECT revoked_at, clone_suspect_of IS NOT NULL FROM certificates WHERE serial = ?`, serial).Scan(&revoked, &suspect)
	if errors.Is(err, sql.ErrNoRows) {
		return cachedSerial{revoked: true}, nil
	}
	if err != nil {
		return cachedSerial{}, err
	}
	st := cachedSerial{revoked: revoked.Valid, suspect: suspect, gen: gen}
	db.cache.putRevocation(serial, st)
	return st, nil
}

// RevokeCertificate revokes serial at now with reason, unless it is revoked
// already: then the first revocation stays. It returns the record. An
// unknown serial → ErrNotFound.
func (db *DB) RevokeCertificate(ctx context.Context, serial, reason string, now time.Time) (storage.Certificate, error) {
	c, _, err := db.RevokeCertificateOnce(ctx, serial, reason, now)
	return c, err
}

// RevokeCertificateOnce is RevokeCertificate that also reports whether this
// call revoked the certificate (false: it was revoked before, and nothing
// changed), so that a second revocation is not recorded as one.
func (db *DB) RevokeCertificateOnce(ctx context.Context, serial, reason string, now time.Time) (storage.Certificate, bool, error) {
	defer db.cache.invalidate()
	var cert storage.Certificate
	var revoked bool
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE certificates SET revoked_at = ?, revocation_reason = ?
			WHERE serial = ? AND revoked_at IS NULL`, unix(now), reason, serial)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		revoked = n == 1
		cert, err = scanCertificate(tx.QueryRowContext(ctx, `SELECT `+certificateColumns+` FROM certificates WHERE serial = ?`, serial))
		return err
	})
	return cert, revoked, err
}

// ListCertificates returns the certificates matching f, ordered by serial.
func (db *DB) ListCertificates(ctx context.Context, f storage.CertificateFilter) ([]storage.Certificate, error) {
	var where []string
	var args []any
	if f.ClientID != "" {
		where = append(where, "client_id = ?")
		args = append(args, f.ClientID)
	}
	if f.State != "" {
		cond, a := stateCondition(f.State, unix(f.At))
		where = append(where, cond)
		args = append(args, a...)
	}
	if !f.NotAfterBefore.IsZero() {
		where = append(where, "not_after < ?")
		args = append(args, unix(f.NotAfterBefore))
	}
	if f.After != "" {
		where = append(where, "serial > ?")
		args = append(args, f.After)
	}
	q := `SELECT ` + certificateColumns + ` FROM certificates`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 1000
	}
	q += " ORDER BY serial LIMIT ?"
	args = append(args, limit)
	rows, err := db.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []storage.Certificate
	for rows.Next() {
		c, err := scanCertificate(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
