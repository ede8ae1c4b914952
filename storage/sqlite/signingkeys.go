package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/certbound/certbound/storage"
)

// RotateSigningKey inserts next as the current key and retires every other
// current key at next.CreatedAt, keeping each published until publishUntil,
// in one transaction.
func (db *DB) RotateSigningKey(ctx context.Context, next storage.SigningKey, publishUntil time.Time) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE signing_keys SET retired_at = ?, publish_until = ? WHERE retired_at IS NULL`,
			unix(next.CreatedAt), unix(publishUntil)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO signing_keys (kid, alg, private_pem, created_at) VALUES (?, ?, ?, ?)`,
			next.KID, next.Alg, next.PrivatePEM, unix(next.CreatedAt))
		return translate(err)
	})
}

// SigningKeys returns every key still current or published at now, newest
// first; keys created in the same second come in the reverse order of their
// rotations (rowid), so the current key still comes first.
func (db *DB) SigningKeys(ctx context.Context, now time.Time) ([]storage.SigningKey, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT kid, alg, private_pem, created_at, retired_at, publish_until
		FROM signing_keys WHERE retired_at IS NULL OR publish_until > ? ORDER BY created_at DESC, rowid DESC`, unix(now))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []storage.SigningKey
	for rows.Next() {
		var k storage.SigningKey
		var created int64
		var retired, until sql.NullInt64
		if err := rows.Scan(&k.KID, &k.Alg, &k.PrivatePEM, &created, &retired, &until); err != nil {
			return nil, err
		}
		k.CreatedAt, k.RetiredAt, k.PublishUntil = fromUnix(created), fromNullUnix(retired), fromNullUnix(until)
		out = append(out, k)
	}
	return out, rows.Err()
}
