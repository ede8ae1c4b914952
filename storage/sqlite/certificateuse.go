package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/certbound/certbound/storage"
)

// MarkCertificateUsed records now as the first time the certificate serial
// authenticated a request, unless an earlier time is recorded. Unknown
// serials are ignored: there is nothing to mark.
func (db *DB) MarkCertificateUsed(ctx context.Context, serial string, now time.Time) error {
	_, err := db.writeExec(ctx, sqlMarkUsed, unix(now), serial)
	return translate(err)
}

// CertificateFirstUsed returns when the certificate serial first
// authenticated a request; the zero time if it never did. Unknown →
// ErrNotFound.
func (db *DB) CertificateFirstUsed(ctx context.Context, serial string) (time.Time, error) {
	var used sql.NullInt64
	err := db.read.QueryRowContext(ctx, `SELECT first_used_at FROM certificates WHERE serial = ?`, serial).Scan(&used)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, storage.ErrNotFound
	}
	return fromNullUnix(used), err
}
