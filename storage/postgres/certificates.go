package postgres

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/certbound/certbound/storage"
)

const certificateColumns = `serial, client_id, fingerprint, not_before, not_after, renewed_from,
	superseded_by, revoked_at, revocation_reason, created_at`

// certificateRow receives the certificateColumns of one row.
type certificateRow struct {
	c                         storage.Certificate
	nb, na, created           int64
	renewedFrom, supersededBy *string
	revoked                   *int64
}

func (r *certificateRow) dest() []any {
	return []any{&r.c.Serial, &r.c.ClientID, &r.c.Fingerprint, &r.nb, &r.na, &r.renewedFrom, &r.supersededBy,
		&r.revoked, &r.c.RevocationReason, &r.created}
}

func (r *certificateRow) certificate() storage.Certificate {
	c := r.c
	c.NotBefore, c.NotAfter, c.CreatedAt = fromUnix(r.nb), fromUnix(r.na), fromUnix(r.created)
	c.RenewedFrom, c.SupersededBy = fromNullText(r.renewedFrom), fromNullText(r.supersededBy)
	c.RevokedAt = fromNullUnix(r.revoked)
	return c
}

func scanCertificate(row pgx.Row) (storage.Certificate, error) {
	var r certificateRow
	if err := row.Scan(r.dest()...); err != nil {
		return storage.Certificate{}, translate(err)
	}
	return r.certificate(), nil
}

// sqlRenewSource reads the old certificate and its client, locking the
// certificate's row (FOR UPDATE: a second renewal of it, on any replica,
// waits here and then reads the row as the first left it, SupersededBy set)
// and the client's against deletion (FOR KEY SHARE: a DeleteClient waits
// for this transaction, and then revokes the successor too).
var sqlRenewSource = `SELECT ` + qualify("c", certificateColumns) + `, ` + qualify("cl", clientColumns) + `,
	c.clone_suspect_of IS NOT NULL
	FROM certificates c JOIN clients cl ON cl.id = c.client_id WHERE c.serial = $1
	FOR UPDATE OF c FOR KEY SHARE OF cl`

// sqlRecordRenewal inserts the successor and marks the old certificate
// superseded by it — only if nothing superseded it yet — recording now as
// the old certificate's first use unless one is recorded. It returns whether
// the old row changed.
const sqlRecordRenewal = `WITH cert AS (
		INSERT INTO certificates (serial, client_id, fingerprint, not_before, not_after, renewed_from, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7))
	UPDATE certificates SET superseded_by = $1, first_used_at = coalesce(first_used_at, $8)
	WHERE serial = $6 AND superseded_by IS NULL`

// RenewCertificate records the renewal of the certificate oldSerial in one
// transaction: it reads and locks the old record and its client (see
// sqlRenewSource), lets issue decide and sign (it sees revocation and
// SupersededBy), inserts the new record, and marks the old one superseded —
// which succeeds only once per certificate, so two renewals of the same
// certificate, on any replicas, can never both land (storage.ErrConflict).
// The same UPDATE records now as the old certificate's first use unless one
// is recorded. An unknown serial or client → storage.ErrNotFound; a
// certificate whose lineage is marked suspect → storage.ErrSuspectLineage,
// before issue runs. Like RedeemEnrollToken's, issue may run more than once
// (a retried deadlock); only the recorded certificate is returned.
func (db *DB) RenewCertificate(ctx context.Context, oldSerial string, now time.Time, issue storage.RenewFunc) (storage.Certificate, error) {
	var cert storage.Certificate
	gen := db.cache.generation()
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		var oldRow certificateRow
		var cr clientRow
		var suspect bool
		if err := tx.QueryRow(ctx, sqlRenewSource, oldSerial).Scan(append(oldRow.dest(), append(cr.dest(), &suspect)...)...); err != nil {
			return translate(err)
		}
		if suspect {
			return storage.ErrSuspectLineage
		}
		old := oldRow.certificate()
		c, err := issue(old, cr.client())
		if err != nil {
			return err
		}
		c.RenewedFrom = old.Serial
		tag, err := tx.Exec(ctx, sqlRecordRenewal, c.Serial, c.ClientID, c.Fingerprint, unix(c.NotBefore), unix(c.NotAfter),
			c.RenewedFrom, unix(c.CreatedAt), unix(now))
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return storage.ErrConflict
		}
		cert = c
		return nil
	})
	if err != nil {
		return storage.Certificate{}, err
	}
	db.cache.putNewCertificate(cert.Serial, gen)
	return cert, nil
}

// GetCertificate returns the record for serial, or storage.ErrNotFound.
func (db *DB) GetCertificate(ctx context.Context, serial string) (storage.Certificate, error) {
	var r certificateRow
	if err := db.queryRow(ctx, `SELECT `+certificateColumns+` FROM certificates WHERE serial = $1`, []any{serial}, r.dest()...); err != nil {
		return storage.Certificate{}, err
	}
	return r.certificate(), nil
}

// CertificateRevoked reports whether serial is revoked. An unknown serial
// is reported as revoked: certbound never accepts a certificate it has no
// record of (the rule of ca.StatusSource). Answers for known serials come
// from the status cache when current.
func (db *DB) CertificateRevoked(ctx context.Context, serial string) (bool, error) {
	st, err := db.certificateStatus(ctx, serial)
	return st.revoked, err
}

// certificateStatus reads what the status cache keeps of a certificate: an
// unknown serial is revoked (and not cached), a known one is read once per
// cache generation.
func (db *DB) certificateStatus(ctx context.Context, serial string) (cachedSerial, error) {
	if st, ok := db.cache.serial(serial); ok {
		return st, nil
	}
	gen := db.cache.generation()
	var revoked *int64
	var suspect bool
	err := db.queryRow(ctx, `SELECT revoked_at, clone_suspect_of IS NOT NULL FROM certificates WHERE serial = $1`, []any{serial},
		&revoked, &suspect)
	if errors.Is(err, storage.ErrNotFound) {
		return cachedSerial{revoked: true}, nil
	}
	if err != nil {
		return cachedSerial{}, err
	}
	st := cachedSerial{revoked: revoked != nil, suspect: suspect, gen: gen}
	db.cache.putSerial(serial, st)
	return st, nil
}

// FingerprintRevoked reports whether certbound issued a certificate whose
// DER has this hex SHA-256 and has revoked it. The query repeats the WHERE
// of the partial index certificates_revoked_fingerprint, which lets the
// planner use it.
func (db *DB) FingerprintRevoked(ctx context.Context, fingerprint string) (bool, error) {
	var revoked bool
	err := db.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM certificates WHERE fingerprint = $1 AND revoked_at IS NOT NULL)`,
		[]any{fingerprint}, &revoked)
	return revoked, err
}

// RevokeCertificate revokes serial at now with reason, unless it is revoked
// already: then the first revocation stays. It returns the record. An
// unknown serial → storage.ErrNotFound.
func (db *DB) RevokeCertificate(ctx context.Context, serial, reason string, now time.Time) (storage.Certificate, error) {
	c, _, err := db.RevokeCertificateOnce(ctx, serial, reason, now)
	return c, err
}

// RevokeCertificateOnce is RevokeCertificate that also reports whether this
// call revoked the certificate (false: it was revoked before — by any
// replica — and nothing changed).
func (db *DB) RevokeCertificateOnce(ctx context.Context, serial, reason string, now time.Time) (storage.Certificate, bool, error) {
	defer db.cache.invalidate()
	var cert storage.Certificate
	var revoked bool
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE certificates SET revoked_at = $1, revocation_reason = $2
			WHERE serial = $3 AND revoked_at IS NULL`, unix(now), reason, serial)
		if err != nil {
			return err
		}
		revoked = tag.RowsAffected() == 1
		if cert, err = scanCertificate(tx.QueryRow(ctx, `SELECT `+certificateColumns+` FROM certificates WHERE serial = $1`, serial)); err != nil {
			return err
		}
		if !revoked {
			return nil
		}
		return notify(ctx, tx, storage.ChangeCertificates)
	})
	return cert, revoked, err
}

// stateCondition is the WHERE clause of state at the unix second now; it
// must say what storage.Certificate.State says.
func stateCondition(state storage.CertificateState, now int64, a *args) string {
	switch state {
	case storage.StateRevoked:
		return "revoked_at IS NOT NULL"
	case storage.StateExpired:
		return "revoked_at IS NULL AND not_after <= " + a.add(now)
	case storage.StateSuperseded:
		return "revoked_at IS NULL AND not_after > " + a.add(now) + " AND superseded_by IS NOT NULL"
	case storage.StateActive:
		return "revoked_at IS NULL AND not_after > " + a.add(now) + " AND superseded_by IS NULL"
	}
	return "false" // an unknown state matches nothing
}

// ListCertificates returns the certificates matching f, ordered by serial.
func (db *DB) ListCertificates(ctx context.Context, f storage.CertificateFilter) ([]storage.Certificate, error) {
	var where []string
	var a args
	if f.ClientID != "" {
		where = append(where, "client_id = "+a.add(f.ClientID))
	}
	if f.State != "" {
		where = append(where, stateCondition(f.State, unix(f.At), &a))
	}
	if !f.NotAfterBefore.IsZero() {
		where = append(where, "not_after < "+a.add(unix(f.NotAfterBefore)))
	}
	if f.After != "" {
		where = append(where, "serial > "+a.add(f.After))
	}
	q := `SELECT ` + certificateColumns + ` FROM certificates`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 1000
	}
	q += " ORDER BY serial LIMIT " + a.add(limit)
	var out []storage.Certificate
	err := db.query(ctx, q, a, func() { out = nil }, func(rows pgx.Rows) error {
		var r certificateRow
		if err := rows.Scan(r.dest()...); err != nil {
			return err
		}
		out = append(out, r.certificate())
		return nil
	})
	return out, err
}

// CountCertificates counts active certificates (storage.StateActive:
// superseded ones do not count) and those of them expiring within window.
func (db *DB) CountCertificates(ctx context.Context, now time.Time, window time.Duration) (storage.CertificateCounts, error) {
	var c storage.CertificateCounts
	var a args
	soon := a.add(unix(now.Add(window)))
	active := stateCondition(storage.StateActive, unix(now), &a)
	err := db.queryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE not_after <= `+soon+`)
		FROM certificates WHERE `+active, a, &c.Active, &c.ExpiringSoon)
	return c, err
}

// PruneExpiredCertificates deletes the records of certificates that
// expired before cutoff. Revoked ones go too: once expired, a certificate is
// refused on its dates alone.
func (db *DB) PruneExpiredCertificates(ctx context.Context, cutoff time.Time) (int64, error) {
	defer db.cache.invalidate()
	var n int64
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM certificates WHERE not_after < $1`, unix(cutoff))
		if err != nil {
			return err
		}
		if n = tag.RowsAffected(); n == 0 {
			return nil
		}
		return notify(ctx, tx, storage.ChangeCertificates)
	})
	return n, err
}

// MarkCertificateUsed records now as the first time the certificate serial
// authenticated a request, unless an earlier time is recorded. Unknown
// serials are ignored.
func (db *DB) MarkCertificateUsed(ctx context.Context, serial string, now time.Time) error {
	_, err := db.exec(ctx, `UPDATE certificates SET first_used_at = $1 WHERE serial = $2 AND first_used_at IS NULL`, unix(now), serial)
	return err
}

// CertificateFirstUsed returns when the certificate serial first
// authenticated a request; the zero time if it never did. Unknown →
// storage.ErrNotFound.
func (db *DB) CertificateFirstUsed(ctx context.Context, serial string) (time.Time, error) {
	var used *int64
	if err := db.queryRow(ctx, `SELECT first_used_at FROM certificates WHERE serial = $1`, []any{serial}, &used); err != nil {
		return time.Time{}, err
	}
	return fromNullUnix(used), nil
}
