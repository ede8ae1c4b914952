package sqlite

import (
	"context"
	"database/sql"
	"errors"
)

// The statements every enrollment and renewal runs on the writer. Open
// prepares them once, so that a transaction binds and steps instead of
// parsing SQL (parsing was about a third of the transaction's CPU time).
const (
	sqlRedeemToken = `UPDATE enroll_tokens SET used_at = ?, used_serial = ?
			WHERE hash = ? AND used_at IS NULL AND expires_at > ?`
	sqlInsertEnrollTok = `INSERT INTO enroll_tokens (hash, client_id, dns_names, created_at, expires_at) SELECT ?, id, ?, ?, ? FROM clients WHERE id = ?`
	sqlInsertCert      = `INSERT INTO certificates (` + certificateColumns + `) VALUES (?, ?, ?, ?, ?, ?, NULL, NULL, '', ?)`
	sqlSupersede       = `UPDATE certificates SET superseded_by = ?, first_used_at = coalesce(first_used_at, ?) WHERE serial = ? AND superseded_by IS NULL`
	sqlMarkUsed        = `UPDATE certificates SET first_used_at = ? WHERE serial = ? AND first_used_at IS NULL`

	// Around each job of a write batch (batch.go); jobs never nest.
	sqlSavepoint           = `SAVEPOINT job`
	sqlRollbackToSavepoint = `ROLLBACK TO job`
	sqlReleaseSavepoint    = `RELEASE job`
)

// The reads that start a redemption and a renewal: the record and its
// client in one statement. Built once from the column lists; never changed.
var (
	sqlRedeemSource = `SELECT t.client_id, t.dns_names, t.created_at, t.expires_at, ` + qualify("c", clientColumns) + `
			FROM enroll_tokens t JOIN clients c ON c.id = t.client_id
			WHERE t.hash = ? AND t.used_at IS NULL AND t.expires_at > ?`
	sqlRenewSource = `SELECT ` + qualify("c", certificateColumns) + `, ` + qualify("cl", clientColumns) + `,
			c.clone_suspect_of IS NOT NULL FROM certificates c JOIN clients cl ON cl.id = c.client_id WHERE c.serial = ?`
)

var preparedWrites = []string{sqlRedeemSource, sqlRedeemToken, sqlInsertEnrollTok, sqlRenewSource,
	sqlInsertCert, sqlSupersede, sqlMarkUsed, sqlSavepoint, sqlRollbackToSavepoint, sqlReleaseSavepoint}

// prepare prepares preparedWrites on the writer pool. The map is read-only
// afterwards.
func (db *DB) prepare(ctx context.Context) error {
	db.stmts = make(map[string]*sql.Stmt, len(preparedWrites))
	for _, q := range preparedWrites {
		s, err := db.write.PrepareContext(ctx, q)
		if err != nil {
			return errors.Join(err, db.closeStmts())
		}
		db.stmts[q] = s
	}
	return nil
}

func (db *DB) closeStmts() error {
	var errs []error
	for _, s := range db.stmts {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}

// txExec runs query in tx, through its prepared statement when it has one.
func (db *DB) txExec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	if s := db.stmts[query]; s != nil {
		return tx.StmtContext(ctx, s).ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, query, args...)
}

// txQueryRow is txExec for a query that returns one row.
func (db *DB) txQueryRow(ctx context.Context, tx *sql.Tx, query string, args ...any) *sql.Row {
	if s := db.stmts[query]; s != nil {
		return tx.StmtContext(ctx, s).QueryRowContext(ctx, args...)
	}
	return tx.QueryRowContext(ctx, query, args...)
}

// writeExec runs query on the writer outside a transaction.
func (db *DB) writeExec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if s := db.stmts[query]; s != nil {
		return s.ExecContext(ctx, args...)
	}
	return db.write.ExecContext(ctx, query, args...)
}
