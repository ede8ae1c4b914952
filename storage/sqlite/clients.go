package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/certbound/certbound/storage"
)

const clientColumns = `id, name, scopes, audiences, grant_types, auth_method, san_uri, thumbprints,
	self_signed_pem, secret_hash, access_token_ttl, disabled, created_at, updated_at, generation`

func scanClient(row scanner) (storage.Client, error) {
	var r clientRow
	if err := scanRow(row, r.dest()...); err != nil {
		return storage.Client{}, err
	}
	return r.client(), nil
}

// clientRow receives the clientColumns of one row.
type clientRow struct {
	c                            storage.Client
	scopes, auds, grants, thumbs string
	ttl, created, updated        int64
}

func (r *clientRow) dest() []any {
	return []any{&r.c.ID, &r.c.Name, &r.scopes, &r.auds, &r.grants, &r.c.AuthMethod, &r.c.SANURI, &r.thumbs,
		&r.c.SelfSignedPEM, &r.c.SecretHash, &r.ttl, &r.c.Disabled, &r.created, &r.updated, &r.c.Generation}
}

func (r *clientRow) client() storage.Client {
	c := r.c
	c.Scopes = fromSpaceList(r.scopes)
	c.Audiences = fromJSONList(r.auds)
	c.GrantTypes = fromJSONList(r.grants)
	c.Thumbprints = fromJSONList(r.thumbs)
	c.AccessTokenTTL = time.Duration(r.ttl) * time.Second
	c.CreatedAt, c.UpdatedAt = fromUnix(r.created), fromUnix(r.updated)
	if len(c.Generation) == 0 {
		c.Generation = nil
	}
	return c
}

// CreateClient inserts c. A client with the same ID → ErrConflict.
func (db *DB) CreateClient(ctx context.Context, c storage.Client) error {
	defer db.cache.invalidate()
	_, err := db.write.ExecContext(ctx, `INSERT INTO clients (`+clientColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.Name, spaceList(c.Scopes), jsonList(c.Audiences), jsonList(c.GrantTypes), c.AuthMethod,
		c.SANURI, jsonList(c.Thumbprints), c.SelfSignedPEM, c.SecretHash, int64(c.AccessTokenTTL/time.Second),
		c.Disabled, unix(c.CreatedAt), unix(c.UpdatedAt), generation(c.Generation))
	return translate(err)
}

// generation is what the NOT NULL column stores for g (empty for none).
func generation(g []byte) []byte {
	if g == nil {
		return []byte{}
	}
	return g
}

// GetClient returns the client with id, or ErrNotFound.
// Served from the status cache when the record is there and current.
func (db *DB) GetClient(ctx context.Context, id string) (storage.Client, error) {
	if c, ok := db.cache.client(id); ok {
		return c, nil
	}
	gen := db.cache.generation()
	c, err := scanClient(db.read.QueryRowContext(ctx, `SELECT `+clientColumns+` FROM clients WHERE id = ?`, id))
	if err == nil {
		db.cache.putClient(c, gen)
	}
	return c, err
}

// ListClients returns up to limit clients ordered by id, starting after the
// id `after` (keyset pagination; "" starts at the beginning). limit <= 0
// means 1000.
func (db *DB) ListClients(ctx context.Context, after string, limit int) ([]storage.Client, error) {
	if limit <= 0 {
		limit = 1000
	}
	rows, err := db.read.QueryContext(ctx, `SELECT `+clientColumns+` FROM clients WHERE id > ? ORDER BY id LIMIT ?`, after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []storage.Client
	for rows.Next() {
		c, err := scanClient(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// ModifyClient reads the client id, lets change modify the record and
// writes back its mutable fields (everything but ID, CreatedAt and
// Generation), all in one write transaction: change always sees the latest
// record, so a change made meanwhile by another caller (an administrator's
// PATCH, clone detection disabling the client) is never overwritten with
// what was read before it. It returns the record written. ErrNotFound if there is no such
// client; an error from change rolls back and is returned as it is.
func (db *DB) ModifyClient(ctx context.Context, id string, change func(*storage.Client) error) (storage.Client, error) {
	defer db.cache.invalidate()
	var c storage.Client
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if c, err = scanClient(tx.QueryRowContext(ctx, `SELECT `+clientColumns+` FROM clients WHERE id = ?`, id)); err != nil {
			return err
		}
		if err := change(&c); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE clients SET name = ?, scopes = ?, audiences = ?,
			grant_types = ?, auth_method = ?, san_uri = ?, thumbprints = ?, self_signed_pem = ?, secret_hash = ?,
			access_token_ttl = ?, disabled = ?, updated_at = ? WHERE id = ?`,
			c.Name, spaceList(c.Scopes), jsonList(c.Audiences), jsonList(c.GrantTypes), c.AuthMethod, c.SANURI,
			jsonList(c.Thumbprints), c.SelfSignedPEM, c.SecretHash, int64(c.AccessTokenTTL/time.Second), c.Disabled,
			unix(c.UpdatedAt), id)
		return expectOne(res, err)
	})
	if err != nil {
		return storage.Client{}, err
	}
	c.ID = id
	return c, nil
}

// DeleteClient deletes the client, its unused enrollment tokens, and revokes
// its unrevoked certificates (reason "client deleted"), in one transaction.
func (db *DB) DeleteClient(ctx context.Context, id string, now time.Time) error {
	defer db.cache.invalidate()
	return db.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM clients WHERE id = ?`, id)
		if err := expectOne(res, err); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE certificates SET revoked_at = ?, revocation_reason = 'client deleted'
			WHERE client_id = ? AND revoked_at IS NULL`, unix(now), id)
		return err
	})
}

// ClientDisabled reports whether the client is disabled. An unknown client
// (deleted, say) counts as disabled: a certificate outliving its client must
// not authenticate.
// It reads the record through GetClient, so the status cache serves it.
func (db *DB) ClientDisabled(ctx context.Context, id string) (bool, error) {
	c, err := db.GetClient(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return true, nil
	}
	return c.Disabled, err
}

// CountClients returns the number of clients.
func (db *DB) CountClients(ctx context.Context) (int, error) {
	var n int
	err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM clients`).Scan(&n)
	return n, err
}

func expectOne(res sql.Result, err error) error {
	if err != nil {
		return translate(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return storage.ErrNotFound
	}
	if n > 1 {
		return fmt.Errorf("storage: %d rows affected, want 1", n)
	}
	return nil
}
