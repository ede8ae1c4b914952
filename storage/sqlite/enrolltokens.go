package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/certbound/certbound/storage"
)

// InsertEnrollToken stores a new token. An unknown client → ErrNotFound.
func (db *DB) InsertEnrollToken(ctx context.Context, t storage.EnrollToken) error {
	res, err := db.writeExec(ctx, sqlInsertEnrollTok,
		t.Hash, jsonList(t.DNSNames), unix(t.CreatedAt), unix(t.ExpiresAt), t.ClientID)
	return expectOne(res, err)
}

// RedeemEnrollToken consumes the token with this hash and records the
// certificate issue returns, atomically: inside the write transaction that
// inserts the certificate, the token is read with its client (unused and
// unexpired at now) and marked used by a conditional UPDATE that must change
// exactly that row. Of any number of concurrent redemptions, exactly one
// reaches issue. An unknown, used or expired token → ErrNotFound. Concurrent
// redemptions and renewals share write transactions (batch.go), each
// atomic on its own; issue runs on another goroutine than the caller's.
func (db *DB) RedeemEnrollToken(ctx context.Context, hash []byte, now time.Time, issue storage.IssueFunc) (storage.Certificate, error) {
	var cert storage.Certificate
	gen := db.cache.generation()
	err := db.inBatch(ctx, db.redeemJob(hash, now, issue, &cert))
	if err == nil {
		db.cache.putNewCertificate(cert.Serial, gen)
	}
	return cert, err
}

// redeemJob is RedeemEnrollToken's transaction body; it sets *cert.
func (db *DB) redeemJob(hash []byte, now time.Time, issue storage.IssueFunc, cert *storage.Certificate) func(context.Context, *sql.Tx) error {
	return func(ctx context.Context, tx *sql.Tx) error {
		// The token and its client, in one statement. The transaction holds
		// the write lock from BEGIN IMMEDIATE to COMMIT, so nothing redeems
		// the token between this read and the UPDATE below.
		tok := storage.EnrollToken{Hash: hash}
		var dns string
		var created, expires int64
		var clientRow clientRow
		dest := append([]any{&tok.ClientID, &dns, &created, &expires}, clientRow.dest()...)
		if err := scanRow(db.txQueryRow(ctx, tx, sqlRedeemSource, hash, unix(now)), dest...); err != nil {
			return err
		}
		tok.DNSNames = fromJSONList(dns)
		tok.CreatedAt, tok.ExpiresAt = fromUnix(created), fromUnix(expires)
		c, err := issue(tok, clientRow.client())
		if err != nil {
			return err
		}
		if err := db.insertCertificate(ctx, tx, c); err != nil {
			return err
		}
		res, err := db.txExec(ctx, tx, sqlRedeemToken, unix(now), c.Serial, hash, unix(now))
		if err := expectOne(res, err); err != nil {
			return err
		}
		*cert = c
		return nil
	}
}

// DeleteExpiredEnrollTokens removes tokens that expired before cutoff.
func (db *DB) DeleteExpiredEnrollTokens(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := db.write.ExecContext(ctx, `DELETE FROM enroll_tokens WHERE expires_at < ?`, unix(cutoff))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// EnrollTokenState says why a token with this hash would be refused at
// now: unknown (never minted, pruned, or its client deleted), used (a
// replay) or expired; valid if it is neither. It is read after a refusal,
// for the log and the audit trail only: the caller's answer stays the same
// for all three.
func (db *DB) EnrollTokenState(ctx context.Context, hash []byte, now time.Time) (string, error) {
	var expiresAt int64
	var usedAt sql.NullInt64
	err := db.read.QueryRowContext(ctx, `SELECT expires_at, used_at FROM enroll_tokens WHERE hash = ?`, hash).
		Scan(&expiresAt, &usedAt)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return storage.TokenUnknown, nil
	case err != nil:
		return "", err
	case usedAt.Valid:
		return storage.TokenUsed, nil
	case expiresAt <= unix(now):
		return storage.TokenExpired, nil
	}
	return storage.TokenValid, nil
}
