package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/certbound/certbound/storage"
)

var _ storage.RowCopier = (*DB)(nil)

// booleans are the columns that are BOOLEAN here and INTEGER 0/1 in SQLite;
// storage.RowCopier carries them as int64.
var booleans = map[string]bool{"clients.disabled": true}

// ExportRows implements storage.RowCopier: every row of t, in t's order (seq,
// the insertion order, when t names none), as int64, string, []byte or nil.
func (db *DB) ExportRows(ctx context.Context, t storage.Table, fn func(row []any) error) error {
	order := t.OrderBy
	if order == "" {
		order = "seq"
	}
	rows, err := db.pool.Query(ctx, `SELECT `+strings.Join(t.Columns, ", ")+` FROM `+t.Name+` ORDER BY `+order)
	if err != nil {
		return fmt.Errorf("storage: export %s: %w", t.Name, translate(err))
	}
	defer rows.Close()
	for rows.Next() {
		row, err := rows.Values()
		if err != nil {
			return fmt.Errorf("storage: export %s: %w", t.Name, translate(err))
		}
		for i, v := range row {
			switch v := v.(type) {
			case bool:
				row[i] = int64(0)
				if v {
					row[i] = int64(1)
				}
			case int32:
				row[i] = int64(v)
			case int16:
				row[i] = int64(v)
			}
		}
		if err := fn(row); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("storage: export %s: %w", t.Name, translate(err))
	}
	return nil
}

// ImportRows implements storage.RowCopier: one transaction, refused with
// storage.ErrNotEmpty when any table (or the shared CA) holds a row. The
// audit trail's identity continues after the highest id copied.
func (db *DB) ImportRows(ctx context.Context, src func(context.Context, storage.Table, func([]any) error) error) error {
	return translate(db.tryTx(ctx, func(tx pgx.Tx) error {
		// Two copies into one database at once: the second waits here and
		// then finds the first one's rows.
		if _, err := tx.Exec(ctx, `LOCK TABLE clients, enroll_tokens, certificates, admin_keys, signing_keys, audit_events IN EXCLUSIVE MODE`); err != nil {
			return fmt.Errorf("storage: import: %w", err)
		}
		for _, name := range []string{"clients", "enroll_tokens", "certificates", "admin_keys", "signing_keys", "audit_events", "ca_material"} {
			var held bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+name+`)`).Scan(&held); err != nil {
				return fmt.Errorf("storage: import: %w", err)
			}
			if held {
				return fmt.Errorf("%w: %s holds rows", storage.ErrNotEmpty, name)
			}
		}
		for _, t := range storage.Tables {
			sql := `INSERT INTO ` + t.Name + ` (` + strings.Join(t.Columns, ", ") + `) VALUES (`
			for i := range t.Columns {
				if i > 0 {
					sql += ", "
				}
				sql += fmt.Sprintf("$%d", i+1)
			}
			sql += `)`
			err := src(ctx, t, func(row []any) error {
				for i, c := range t.Columns {
					if v, ok := row[i].(int64); ok && booleans[t.Name+"."+c] {
						row[i] = v != 0
					}
				}
				if _, err := tx.Exec(ctx, sql, row...); err != nil {
					return fmt.Errorf("storage: import %s: %w", t.Name, err)
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `SELECT setval(pg_get_serial_sequence('audit_events', 'id'), COALESCE(max(id), 0) + 1, false) FROM audit_events`); err != nil {
			return fmt.Errorf("storage: import: %w", err)
		}
		return nil
	}))
}
