package sqlite

import (
	"context"
	"time"
)

// DisableClient marks the client disabled at now, touching nothing else, so
// it cannot race with an administrator's concurrent change of other fields.
// Disabling a disabled client succeeds. Unknown → ErrNotFound.
func (db *DB) DisableClient(ctx context.Context, id string, now time.Time) error {
	defer db.cache.invalidate()
	res, err := db.write.ExecContext(ctx, `UPDATE clients SET disabled = 1, updated_at = ? WHERE id = ?`, unix(now), id)
	return expectOne(res, err)
}
