package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Admin key errors. Each wraps ErrNotFound or ErrConflict, so callers that
// only know those still branch right.
var (
	// ErrAdminKeyNotFound: no admin key has this name.
	ErrAdminKeyNotFound = fmt.Errorf("%w: no admin key with this name", ErrNotFound)
	// ErrAdminKeyExists: the name is taken, by a valid, expired or revoked key.
	ErrAdminKeyExists = fmt.Errorf("%w: an admin key with this name exists", ErrConflict)
	// ErrAdminKeyRevoked: the key was revoked before.
	ErrAdminKeyRevoked = fmt.Errorf("%w: admin key already revoked", ErrConflict)
	// ErrLastAdminKey: revoking this key would leave no valid admin key.
	ErrLastAdminKey = fmt.Errorf("%w: the last valid admin key", ErrConflict)
)

// AdminKey is the record of one admin API key. The key itself is never
// stored, only its SHA-256.
type AdminKey struct {
	Name      string // unique; stays taken after revocation
	Hash      []byte // SHA-256 of the key
	CreatedAt time.Time
	// ExpiresAt is when the key stops working. Zero: never.
	ExpiresAt time.Time
	// LastUsedAt is the last accepted use the server has written back: it
	// trails the truth by up to a minute (the server writes uses in batches).
	// Zero: never used.
	LastUsedAt time.Time
	// RevokedAt is when the key was revoked. Zero: not revoked.
	RevokedAt time.Time
}

// Valid reports whether the key is usable at now: not revoked, not expired.
func (k AdminKey) Valid(now time.Time) bool {
	return k.RevokedAt.IsZero() && (k.ExpiresAt.IsZero() || now.Before(k.ExpiresAt))
}

// InsertAdminKey stores a new admin key record. A taken name →
// ErrAdminKeyExists.
func (db *DB) InsertAdminKey(ctx context.Context, k AdminKey) error {
	_, err := db.write.ExecContext(ctx, `INSERT INTO admin_keys (hash, name, created_at, expires_at) VALUES (?, ?, ?, ?)`,
		k.Hash, k.Name, unix(k.CreatedAt), nullUnix(k.ExpiresAt))
	if err = translate(err); errors.Is(err, ErrConflict) {
		// The hash is 256 random bits: the name is what collided.
		return ErrAdminKeyExists
	}
	return err
}

// AdminKeys returns every admin key record, revoked and expired ones
// included, oldest first. The caller compares a presented key's hash against
// each in constant time rather than looking it up by value.
func (db *DB) AdminKeys(ctx context.Context) ([]AdminKey, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT name, hash, created_at, expires_at, last_used_at, revoked_at
		FROM admin_keys ORDER BY created_at, name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AdminKey
	for rows.Next() {
		var k AdminKey
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
		if errors.Is(err, ErrNotFound) {
			return ErrAdminKeyNotFound
		}
		if err != nil {
			return err
		}
		if revoked.Valid {
			return ErrAdminKeyRevoked
		}
		k := AdminKey{ExpiresAt: fromNullUnix(expires)}
		if k.Valid(now) {
			var others int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM admin_keys
				WHERE name != ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)`,
				name, unix(now)).Scan(&others); err != nil {
				return err
			}
			if others == 0 {
				return ErrLastAdminKey
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
