package postgres

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/certbound/certbound/storage"
)

// AppendAuditEvents writes events in one transaction (one round trip: a
// batch).
func (db *DB) AppendAuditEvents(ctx context.Context, events []storage.AuditEvent) error {
	if len(events) == 0 {
		return nil
	}
	return db.inTx(ctx, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, e := range events {
			b.Queue(`INSERT INTO audit_events (at, type, client_id, serial, reason, remote, request_id, count, admin_key, target_key)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
				e.At.UnixMilli(), e.Type, e.ClientID, e.Serial, e.Reason, e.Remote, e.RequestID, max(e.Count, 1), e.AdminKey, e.TargetKey)
		}
		return tx.SendBatch(ctx, b).Close()
	})
}

// ListAuditEvents returns matching events, oldest first.
func (db *DB) ListAuditEvents(ctx context.Context, f storage.AuditFilter) ([]storage.AuditEvent, error) {
	var a args
	where := []string{"id > " + a.add(f.AfterID)}
	if !f.Since.IsZero() {
		where = append(where, "at >= "+a.add(f.Since.UnixMilli()))
	}
	if f.ClientID != "" {
		where = append(where, "client_id = "+a.add(f.ClientID))
	}
	switch {
	case strings.HasSuffix(f.Type, "."):
		where = append(where, "left(type, "+a.add(len(f.Type))+") = "+a.add(f.Type))
	case f.Type != "":
		where = append(where, "type = "+a.add(f.Type))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 1000
	}
	q := `SELECT id, at, type, client_id, serial, reason, remote, request_id, count, admin_key, target_key
		FROM audit_events WHERE ` + strings.Join(where, " AND ") + ` ORDER BY id LIMIT ` + a.add(limit)
	var out []storage.AuditEvent
	err := db.query(ctx, q, a, func() { out = nil }, func(rows pgx.Rows) error {
		var e storage.AuditEvent
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Type, &e.ClientID, &e.Serial, &e.Reason, &e.Remote, &e.RequestID, &e.Count, &e.AdminKey, &e.TargetKey); err != nil {
			return err
		}
		e.At = time.UnixMilli(at).UTC()
		out = append(out, e)
		return nil
	})
	return out, err
}

// PruneAuditEvents deletes events older than before and returns how many.
func (db *DB) PruneAuditEvents(ctx context.Context, before time.Time) (int64, error) {
	return db.exec(ctx, `DELETE FROM audit_events WHERE at < $1`, before.UnixMilli())
}
