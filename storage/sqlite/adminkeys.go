package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/certbound/certbound/storage"
)

// InsertAdminKey stores a new admin key record. A taken name →
// ErrAdminKeyExists.
func (db *DB) InsertAdminKey(ctx context.Context, k storage.AdminKey) error {
	_, err := db.write.ExecContext(ctx, `INSERT INTO admin_keys (hash, name, created_at, expires_at) VALUES (?, ?, ?, ?)`,
		k.Hash, k.Name, unix(k.CreatedAt), nullUnix(k.ExpiresAt))
	if err = translate(err); errors.Is(err, storage.ErrConflict) {
		// The hash is 256 random bits: the name is what collided.
		return storage.ErrAdminKeyExists
	}
	return err
}

// AdminKeys returns every admin key record, revoked and expired ones
// included, oldest first. The caller compares a presented key's hash against
// each in constant time rather than looking it up by value.
func (db *DB) AdminKeys(ctx context.Context) ([]storage.AdminKey, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT name, hash, created_at, expires_at, last_used_at, revoked_at
		FROM admin_keys ORDER BY created_at, name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []storage.AdminKey
	for rows.Next() {
		var k storage.AdminKey
		var created int64
		var expires, used, revoked sql.NullInt64
		if err := rows.Scan(&k.Name, &k.Hash, &created, &expires, &used, &revoked); err != nil {
			return nil, err
		}
		k.CreatedAt, k.ExpiresAt, k.LastUsedAt, k.RevokedAt = fromUnix(created), fromNullUnix(expires), fromNullUnix(used), fromNullUnix(revoked)
		out = append(out, k)
	}
	return out, rows.Err()
}

// RevokeAdminKey marks the key name revoked at now, in one transaction with
// the check that some other key stays valid at now: two revocations at the
// same moment cannot leave no valid key between them. Unknown →
// ErrAdminKeyNotFound; revoked before → ErrAdminKeyRevoked; the last valid
// key → ErrLastAdminKey. Revoking an expired key is allowed.
func (db *DB) RevokeAdminKey(ctx context.Context, name string, now time.Time) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		var expires, revoked sql.NullInt64
		err := scanRow(tx.QueryRowContext(ctx, `SELECT expires_at, revoked_at FROM admin_keys WHERE name = ?`, name), &expires, &revoked)
		if errors.Is(err, storage.ErrNotFound) {
			return storage.ErrAdminKeyNotFound
		}
		if err != nil {
			return err
		}
		if revoked.Valid {
			return storage.ErrAdminKeyRevoked
		}
		k := storage.AdminKey{ExpiresAt: fromNullUnix(expires)}
		if k.Valid(now) {
			var others int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM admin_keys
				WHERE name != ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)`,
				name, unix(now)).Scan(&others); err != nil {
				return err
			}
			if others == 0 {
				return storage.ErrLastAdminKey
			}
		}
		_, err = tx.ExecContext(ctx, `UPDATE admin_keys SET revoked_at = ? WHERE name = ?`, unix(now), name)
		return err
	})
}

// RecordAdminKeyUse writes the last use of each named key (name → time), in
// one transaction. A time older than the one stored is ignored; unknown
// names are skipped.
func (db *DB) RecordAdminKeyUse(ctx context.Context, used map[string]time.Time) error {
	if len(used) == 0 {
		return nil
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		for name, at := range used {
			if _, err := tx.ExecContext(ctx, `UPDATE admin_keys SET last_used_at = ?
				WHERE name = ? AND (last_used_at IS NULL OR last_used_at < ?)`, unix(at), name, unix(at)); err != nil {
				return err
			}
		}
		return nil
	})
}
