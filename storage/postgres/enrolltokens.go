package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/certbound/certbound/storage"
)

// InsertEnrollToken stores a new token. An unknown client →
// storage.ErrNotFound; a token with the same hash → storage.ErrConflict.
func (db *DB) InsertEnrollToken(ctx context.Context, t storage.EnrollToken) error {
	n, err := db.exec(ctx, `INSERT INTO enroll_tokens (hash, client_id, dns_names, created_at, expires_at)
		SELECT $1, id, $2, $3, $4 FROM clients WHERE id = $5`,
		t.Hash, jsonList(t.DNSNames), unix(t.CreatedAt), unix(t.ExpiresAt), t.ClientID)
	return expectOne(n, err)
}

// sqlRedeem consumes the token: the conditional UPDATE takes the token's row
// lock and changes it only while it is unused and unexpired at $2. A
// concurrent redemption (any replica) waits for that lock and, once this
// transaction commits, finds the row used: it changes nothing. If this
// transaction rolls back instead, the waiter redeems. It returns the token
// with its client, read in the same statement.
var sqlRedeem = `UPDATE enroll_tokens t SET used_at = $2
	FROM clients c WHERE c.id = t.client_id AND t.hash = $1 AND t.used_at IS NULL AND t.expires_at > $2
	RETURNING t.client_id, t.dns_names, t.created_at, t.expires_at, ` + qualify("c", clientColumns)

// sqlRecordRedeemed inserts the certificate and names it on the token, in
// one statement.
const sqlRecordRedeemed = `WITH cert AS (
		INSERT INTO certificates (serial, client_id, fingerprint, not_before, not_after, renewed_from, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7))
	UPDATE enroll_tokens SET used_serial = $1 WHERE hash = $8`

// RedeemEnrollToken consumes the token with this hash and records the
// certificate issue returns, in one transaction: the token is marked used
// (sqlRedeem, a row lock that makes it single use across every replica),
// issue signs, the certificate is inserted and named on the token, and the
// transaction commits. Any error — issue's, a duplicate serial
// (storage.ErrConflict), a lost connection — rolls everything back and the
// token stays unused. An unknown, used or expired token →
// storage.ErrNotFound, and issue does not run.
//
// issue may run more than once: a transaction that failed with a deadlock
// or a serialization failure runs again (see inTx). Each run signs a new
// certificate; nothing of an aborted run is recorded, and its certificate
// is never returned, so only the recorded one reaches the caller.
func (db *DB) RedeemEnrollToken(ctx context.Context, hash []byte, now time.Time, issue storage.IssueFunc) (storage.Certificate, error) {
	var cert storage.Certificate
	gen := db.cache.generation()
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		tok := storage.EnrollToken{Hash: hash}
		var dns string
		var created, expires int64
		var cr clientRow
		dest := append([]any{&tok.ClientID, &dns, &created, &expires}, cr.dest()...)
		if err := tx.QueryRow(ctx, sqlRedeem, hash, unix(now)).Scan(dest...); err != nil {
			return translate(err)
		}
		tok.DNSNames = fromJSONList(dns)
		tok.CreatedAt, tok.ExpiresAt = fromUnix(created), fromUnix(expires)
		c, err := issue(tok, cr.client())
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, sqlRecordRedeemed, c.Serial, c.ClientID, c.Fingerprint, unix(c.NotBefore), unix(c.NotAfter),
			nullText(c.RenewedFrom), unix(c.CreatedAt), hash); err != nil {
			return err
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

// DeleteExpiredEnrollTokens removes tokens that expired before cutoff.
func (db *DB) DeleteExpiredEnrollTokens(ctx context.Context, cutoff time.Time) (int64, error) {
	return db.exec(ctx, `DELETE FROM enroll_tokens WHERE expires_at < $1`, unix(cutoff))
}

// EnrollTokenState says why a token with this hash would be refused at
// now: storage.TokenUnknown (never minted, pruned, or its client deleted),
// TokenUsed or TokenExpired; TokenValid if it is neither. For the log and
// the audit trail only.
func (db *DB) EnrollTokenState(ctx context.Context, hash []byte, now time.Time) (string, error) {
	var expiresAt int64
	var usedAt *int64
	err := db.queryRow(ctx, `SELECT expires_at, used_at FROM enroll_tokens WHERE hash = $1`, []any{hash}, &expiresAt, &usedAt)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return storage.TokenUnknown, nil
	case err != nil:
		return "", err
	case usedAt != nil:
		return storage.TokenUsed, nil
	case expiresAt <= unix(now):
		return storage.TokenExpired, nil
	}
	return storage.TokenValid, nil
}
