package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/certbound/certbound/storage"
)

// InsertAdminKey stores a new admin key record. A taken name →
// storage.ErrAdminKeyExists.
func (db *DB) InsertAdminKey(ctx context.Context, k storage.AdminKey) error {
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO admin_keys (hash, name, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
			k.Hash, k.Name, unix(k.CreatedAt), nullUnix(k.ExpiresAt)); err != nil {
			return err
		}
		return notify(ctx, tx, storage.ChangeAdminKeys)
	})
	if errors.Is(err, storage.ErrConflict) {
		// The hash is 256 random bits: the name is what collided.
		return storage.ErrAdminKeyExists
	}
	return err
}

// AdminKeys returns every admin key record, revoked and expired ones
// included, oldest first.
func (db *DB) AdminKeys(ctx context.Context) ([]storage.AdminKey, error) {
	var out []storage.AdminKey
	err := db.query(ctx, `SELECT name, hash, created_at, expires_at, last_used_at, revoked_at
		FROM admin_keys ORDER BY created_at, name`, nil,
		func() { out = nil },
		func(rows pgx.Rows) error {
			var k storage.AdminKey
			var created int64
			var expires, used, revoked *int64
			if err := rows.Scan(&k.Name, &k.Hash, &created, &expires, &used, &revoked); err != nil {
				return err
			}
			k.CreatedAt, k.ExpiresAt, k.LastUsedAt, k.RevokedAt = fromUnix(created), fromNullUnix(expires), fromNullUnix(used), fromNullUnix(revoked)
			out = append(out, k)
			return nil
		})
	return out, err
}

// RevokeAdminKey marks the key name revoked at now, in one transaction with
// the check that some other key stays valid at now. The table lock (SHARE
// ROW EXCLUSIVE conflicts with itself and with every write, not with
// readers) makes revocations on any replicas take turns, so two at the same
// moment cannot leave no valid key between them. Unknown →
// storage.ErrAdminKeyNotFound; revoked before → storage.ErrAdminKeyRevoked;
// the last valid key → storage.ErrLastAdminKey. Revoking an expired key is
// allowed.
func (db *DB) RevokeAdminKey(ctx context.Context, name string, now time.Time) error {
	return db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE admin_keys IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return err
		}
		var expires, revoked *int64
		err := translate(tx.QueryRow(ctx, `SELECT expires_at, revoked_at FROM admin_keys WHERE name = $1`, name).Scan(&expires, &revoked))
		if errors.Is(err, storage.ErrNotFound) {
			return storage.ErrAdminKeyNotFound
		}
		if err != nil {
			return err
		}
		if revoked != nil {
			return storage.ErrAdminKeyRevoked
		}
		k := storage.AdminKey{ExpiresAt: fromNullUnix(expires)}
		if k.Valid(now) {
			var others int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM admin_keys
				WHERE name != $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)`,
				name, unix(now)).Scan(&others); err != nil {
				return err
			}
			if others == 0 {
				return storage.ErrLastAdminKey
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE admin_keys SET revoked_at = $1 WHERE name = $2`, unix(now), name); err != nil {
			return err
		}
		return notify(ctx, tx, storage.ChangeAdminKeys)
	})
}

// RecordAdminKeyUse writes the last use of each named key (name → time), in
// one transaction. A time older than the one stored is ignored; unknown
// names are skipped. No notification: the last use is bookkeeping that no
// replica's decision depends on.
func (db *DB) RecordAdminKeyUse(ctx context.Context, used map[string]time.Time) error {
	if len(used) == 0 {
		return nil
	}
	names := make([]string, 0, len(used))
	times := make([]int64, 0, len(used))
	for name, at := range used {
		names = append(names, name)
		times = append(times, unix(at))
	}
	_, err := db.exec(ctx, `UPDATE admin_keys k SET last_used_at = u.at
		FROM unnest($1::text[], $2::bigint[]) AS u(name, at)
		WHERE k.name = u.name AND (k.last_used_at IS NULL OR k.last_used_at < u.at)`, names, times)
	return err
}
