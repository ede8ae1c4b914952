package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/certbound/certbound/storage"
)

var _ storage.RowCopier = (*DB)(nil)

// ExportRows implements storage.RowCopier: every row of t, in t's order
// (rowid, the insertion order, when t names none). The tables are STRICT,
// so the driver gives int64, string, []byte or nil.
func (db *DB) ExportRows(ctx context.Context, t storage.Table, fn func(row []any) error) error {
	order := t.OrderBy
	if order == "" {
		order = "rowid"
	}
	rows, err := db.read.QueryContext(ctx, `SELECT `+strings.Join(t.Columns, ", ")+` FROM `+t.Name+` ORDER BY `+order)
	if err != nil {
		return fmt.Errorf("storage: export %s: %w", t.Name, translate(err))
	}
	defer rows.Close()
	for rows.Next() {
		row := make([]any, len(t.Columns))
		ptrs := make([]any, len(row))
		for i := range row {
			ptrs[i] = &row[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("storage: export %s: %w", t.Name, err)
		}
		for i, v := range row {
			// The driver gives a zero-length BLOB as a nil []byte, which
			// another backend would take for NULL; NULL itself is a nil any.
			if b, ok := v.([]byte); ok && b == nil {
				row[i] = []byte{}
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

// ImportRows implements storage.RowCopier: one write transaction, refused
// with storage.ErrNotEmpty when any table holds a row.
func (db *DB) ImportRows(ctx context.Context, src func(context.Context, storage.Table, func([]any) error) error) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		for _, t := range storage.Tables {
			var held int
			if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM `+t.Name+`)`).Scan(&held); err != nil {
				return fmt.Errorf("storage: import: %w", translate(err))
			}
			if held != 0 {
				return fmt.Errorf("%w: %s holds rows", storage.ErrNotEmpty, t.Name)
			}
		}
		for _, t := range storage.Tables {
			stmt, err := tx.PrepareContext(ctx, `INSERT INTO `+t.Name+` (`+strings.Join(t.Columns, ", ")+
				`) VALUES (`+strings.TrimSuffix(strings.Repeat("?, ", len(t.Columns)), ", ")+`)`)
			if err != nil {
				return fmt.Errorf("storage: import %s: %w", t.Name, translate(err))
			}
			err = src(ctx, t, func(row []any) error {
				if _, err := stmt.ExecContext(ctx, row...); err != nil {
					return fmt.Errorf("storage: import %s: %w", t.Name, translate(err))
				}
				return nil
			})
			stmt.Close()
			if err != nil {
				return err
			}
		}
		return nil
	})
}
