package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/certbound/certbound/storage"
)

// RotateSigningKey inserts next as the current key and retires every other
// current key at next.CreatedAt, keeping each published until
// publishUntil, in one transaction. The table lock (SHARE ROW EXCLUSIVE
// conflicts with itself, not with readers) orders concurrent rotations on
// any replicas as SQLite's single writer does: the second retires the
// first's key instead of both staying current.
//
// Across replicas the caller passes a next.CreatedAt in the future (now +
// storage.MaxStaleness and skew): every replica reloads the keys on the
// notification, publishes the new key at once (SigningKeys returns it) and
// signs with it only from its CreatedAt.
func (db *DB) RotateSigningKey(ctx context.Context, next storage.SigningKey, publishUntil time.Time) error {
	return db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE signing_keys SET retired_at = $1, publish_until = $2 WHERE retired_at IS NULL`,
			unix(next.CreatedAt), unix(publishUntil)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO signing_keys (kid, alg, private_pem, created_at) VALUES ($1, $2, $3, $4)`,
			next.KID, next.Alg, next.PrivatePEM, unix(next.CreatedAt)); err != nil {
			return err
		}
		return notify(ctx, tx, storage.ChangeSigningKeys)
	})
}

// SigningKeys returns every key still current or published at now, newest
// first; keys created in the same second come in the reverse order of
// their rotations (seq), so the current key still comes first.
func (db *DB) SigningKeys(ctx context.Context, now time.Time) ([]storage.SigningKey, error) {
	var out []storage.SigningKey
	err := db.query(ctx, `SELECT kid, alg, private_pem, created_at, retired_at, publish_until
		FROM signing_keys WHERE retired_at IS NULL OR publish_until > $1 ORDER BY created_at DESC, seq DESC`, []any{unix(now)},
		func() { out = nil },
		func(rows pgx.Rows) error {
			var k storage.SigningKey
			var created int64
			var retired, until *int64
			if err := rows.Scan(&k.KID, &k.Alg, &k.PrivatePEM, &created, &retired, &until); err != nil {
				return err
			}
			k.CreatedAt, k.RetiredAt, k.PublishUntil = fromUnix(created), fromNullUnix(retired), fromNullUnix(until)
			out = append(out, k)
			return nil
		})
	return out, err
}
