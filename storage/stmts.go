package storage

import (
	"context"
	"database/sql"
	"errors"
)

// The statements every enrollment and renewal runs on the writer. Open
// prepares them once, so that a transaction binds and steps instead of
// parsing SQL (parsing was about a third of the transaction's CPU time).
const (
	sqlRedeemToken = `UPDATE enroll_tokens SET used_at = ?
			WHERE hash = ? AND used_at IS NULL AND expires_at > ?
			RETURNING hash, client_id, dns_names, created_at, expires_at`
	sqlTokenUsedSerial = `UPDATE enroll_tokens SET used_serial = ? WHERE hash = ?`
	sqlInsertEnrollTok = `INSERT INTO enroll_tokens (hash, client_id, dns_names, created_at, expires_at) SELECT ?, id, ?, ?, ? FROM clients WHERE id = ?`
	sqlClientByID      = `SELECT ` + clientColumns + ` FROM clients WHERE id = ?`
	sqlCertBySerial    = `SELECT ` + certificateColumns + ` FROM certificates WHERE serial = ?`
	sqlInsertCert      = `INSERT INTO certificates (` + certificateColumns + `) VALUES (?, ?, ?, ?, ?, ?, NULL, NULL, '', ?)`
	sqlSupersede       = `UPDATE certificates SET superseded_by = ?, first_used_at = coalesce(first_used_at, ?) WHERE serial = ? AND superseded_by IS NULL`
	sqlMarkUsed        = `UPDATE certificates SET first_used_at = ? WHERE serial = ? AND first_used_at IS NULL`
)

var preparedWrites = []string{sqlRedeemToken, sqlTokenUsedSerial, sqlInsertEnrollTok, sqlClientByID, sqlCertBySerial,
	sqlInsertCert, sqlSupersede, sqlMarkUsed}

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
