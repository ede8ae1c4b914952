package sqlite

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/certbound/certbound/storage"
)

// AppendAuditEvents writes events in one transaction.
func (db *DB) AppendAuditEvents(ctx context.Context, events []storage.AuditEvent) error {
	if len(events) == 0 {
		return nil
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO audit_events (at, type, client_id, serial, reason, remote, request_id, count, admin_key, target_key)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, e := range events {
			if _, err := stmt.ExecContext(ctx, e.At.UnixMilli(), e.Type, e.ClientID, e.Serial, e.Reason, e.Remote, e.RequestID, max(e.Count, 1),
				e.AdminKey, e.TargetKey); err != nil {
				return err
			}
		}
		return nil
	})
}

// ListAuditEvents returns matching events, oldest first.
func (db *DB) ListAuditEvents(ctx context.Context, f storage.AuditFilter) ([]storage.AuditEvent, error) {
	where := []string{"id > ?"}
	args := []any{f.AfterID}
	if !f.Since.IsZero() {
		where, args = append(where, "at >= ?"), append(args, f.Since.UnixMilli())
	}
	if f.ClientID != "" {
		where, args = append(where, "client_id = ?"), append(args, f.ClientID)
	}
	switch {
	case strings.HasSuffix(f.Type, "."):
		where, args = append(where, "substr(type, 1, ?) = ?"), append(args, len(f.Type), f.Type)
	case f.Type != "":
		where, args = append(where, "type = ?"), append(args, f.Type)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 1000
	}
	rows, err := db.read.QueryContext(ctx, `SELECT id, at, type, client_id, serial, reason, remote, request_id, count, admin_key, target_key
		FROM audit_events WHERE `+strings.Join(where, " AND ")+` ORDER BY id LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []storage.AuditEvent
	for rows.Next() {
		var e storage.AuditEvent
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Type, &e.ClientID, &e.Serial, &e.Reason, &e.Remote, &e.RequestID, &e.Count, &e.AdminKey, &e.TargetKey); err != nil {
			return nil, err
		}
		e.At = time.UnixMilli(at).UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

// PruneAuditEvents deletes events older than before and returns how many.
func (db *DB) PruneAuditEvents(ctx context.Context, before time.Time) (int64, error) {
	res, err := db.write.ExecContext(ctx, `DELETE FROM audit_events WHERE at < ?`, before.UnixMilli())
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// activeCondition is stateCondition(StateActive, now), with now its one argument.
var activeCondition, _ = stateCondition(storage.StateActive, 0)

// CountCertificates counts active certificates (StateActive: superseded
// ones do not count) and those of them expiring within window.
func (db *DB) CountCertificates(ctx context.Context, now time.Time, window time.Duration) (storage.CertificateCounts, error) {
	var c storage.CertificateCounts
	err := db.read.QueryRowContext(ctx, `SELECT
			count(*),
			coalesce(sum(CASE WHEN not_after <= ? THEN 1 ELSE 0 END), 0)
		FROM certificates WHERE `+activeCondition,
		unix(now.Add(window)), unix(now)).Scan(&c.Active, &c.ExpiringSoon)
	return c, err
}

// PruneExpiredCertificates deletes the records of certificates that expired
// before cutoff. Revoked ones go too: once expired, a certificate is refused
// on its dates alone, and its revocation no longer matters.
func (db *DB) PruneExpiredCertificates(ctx context.Context, cutoff time.Time) (int64, error) {
	defer db.cache.invalidate()
	res, err := db.write.ExecContext(ctx, `DELETE FROM certificates WHERE not_after < ?`, unix(cutoff))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
