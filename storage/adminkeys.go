package storage

import (
	"context"
	"time"
)

// InsertAdminKey stores the SHA-256 of a new admin API key.
func (db *DB) InsertAdminKey(ctx context.Context, hash []byte, name string, now time.Time) error {
	_, err := db.write.ExecContext(ctx, `INSERT INTO admin_keys (hash, name, created_at) VALUES (?, ?, ?)`,
		hash, name, unix(now))
	return translate(err)
}

// AdminKeyHashes returns the hashes of all admin keys. The caller compares a
// presented key's hash against each in constant time rather than looking it
// up by value.
func (db *DB) AdminKeyHashes(ctx context.Context) ([][]byte, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT hash FROM admin_keys`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var h []byte
		if err := rows.Scan(&h); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}
