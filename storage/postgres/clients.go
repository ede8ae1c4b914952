package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/certbound/certbound/storage"
)

const clientColumns = `id, name, scopes, audiences, grant_types, auth_method, san_uri, thumbprints,
	self_signed_pem, secret_hash, access_token_ttl, disabled, created_at, updated_at, generation`

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

func scanClient(row pgx.Row) (storage.Client, error) {
	var r clientRow
	if err := row.Scan(r.dest()...); err != nil {
		return storage.Client{}, translate(err)
	}
	return r.client(), nil
}

// generation is what the NOT NULL column stores for g (empty for none).
func generation(g []byte) []byte {
	if g == nil {
		return []byte{}
	}
	return g
}

// clientValues are the values of clientColumns for c, in order.
func clientValues(c storage.Client) []any {
	return []any{c.ID, c.Name, spaceList(c.Scopes), jsonList(c.Audiences), jsonList(c.GrantTypes), c.AuthMethod,
		c.SANURI, jsonList(c.Thumbprints), c.SelfSignedPEM, c.SecretHash, int64(c.AccessTokenTTL / time.Second),
		c.Disabled, unix(c.CreatedAt), unix(c.UpdatedAt), generation(c.Generation)}
}

const sqlInsertClient = `INSERT INTO clients (` + clientColumns + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`

// CreateClient inserts c. A client with the same ID → storage.ErrConflict.
func (db *DB) CreateClient(ctx context.Context, c storage.Client) error {
	defer db.cache.invalidate()
	return db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, sqlInsertClient, clientValues(c)...); err != nil {
			return err
		}
		return notify(ctx, tx, storage.ChangeClients)
	})
}

// GetClient returns the client with id, or storage.ErrNotFound. Served
// from the status cache when the record is there and current.
func (db *DB) GetClient(ctx context.Context, id string) (storage.Client, error) {
	if c, ok := db.cache.client(id); ok {
		return c, nil
	}
	gen := db.cache.generation()
	var r clientRow
	if err := db.queryRow(ctx, `SELECT `+clientColumns+` FROM clients WHERE id = $1`, []any{id}, r.dest()...); err != nil {
		return storage.Client{}, err
	}
	c := r.client()
	db.cache.putClient(c, gen)
	return c, nil
}

// ListClients returns up to limit clients ordered by id, starting after
// the id `after` (keyset pagination; "" starts at the beginning). limit <= 0
// means 1000.
func (db *DB) ListClients(ctx context.Context, after string, limit int) ([]storage.Client, error) {
	if limit <= 0 {
		limit = 1000
	}
	var out []storage.Client
	err := db.query(ctx, `SELECT `+clientColumns+` FROM clients WHERE id > $1 ORDER BY id LIMIT $2`, []any{after, limit},
		func() { out = nil },
		func(rows pgx.Rows) error {
			var r clientRow
			if err := rows.Scan(r.dest()...); err != nil {
				return err
			}
			out = append(out, r.client())
			return nil
		})
	return out, err
}

// ModifyClient reads the client id with a row lock (FOR UPDATE), lets
// change modify the record and writes back its mutable fields (everything
// but ID, CreatedAt and Generation), in one transaction: change always sees
// the latest record, and a change made meanwhile by another caller or
// replica waits for the lock, so none is overwritten with what was read
// before it. It returns the record written. storage.ErrNotFound if there is
// no such client; an error from change rolls back and is returned as it is.
// change may run more than once (a retried deadlock).
func (db *DB) ModifyClient(ctx context.Context, id string, change func(*storage.Client) error) (storage.Client, error) {
	defer db.cache.invalidate()
	var c storage.Client
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if c, err = scanClient(tx.QueryRow(ctx, `SELECT `+clientColumns+` FROM clients WHERE id = $1 FOR UPDATE`, id)); err != nil {
			return err
		}
		if err := change(&c); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE clients SET name = $1, scopes = $2, audiences = $3,
			grant_types = $4, auth_method = $5, san_uri = $6, thumbprints = $7, self_signed_pem = $8, secret_hash = $9,
			access_token_ttl = $10, disabled = $11, updated_at = $12 WHERE id = $13`,
			c.Name, spaceList(c.Scopes), jsonList(c.Audiences), jsonList(c.GrantTypes), c.AuthMethod, c.SANURI,
			jsonList(c.Thumbprints), c.SelfSignedPEM, c.SecretHash, int64(c.AccessTokenTTL/time.Second), c.Disabled,
			unix(c.UpdatedAt), id)
		if err := expectOne(tag.RowsAffected(), err); err != nil {
			return err
		}
		return notify(ctx, tx, storage.ChangeClients)
	})
	if err != nil {
		return storage.Client{}, err
	}
	c.ID = id
	return c, nil
}

// DeleteClient deletes the client, its enrollment tokens (ON DELETE
// CASCADE), and revokes its unrevoked certificates (reason "client
// deleted"), in one transaction. A redemption or renewal of that client in
// flight holds a lock the DELETE waits for, and the UPDATE that follows
// takes a snapshot after it: the certificate it recorded is revoked too.
func (db *DB) DeleteClient(ctx context.Context, id string, now time.Time) error {
	defer db.cache.invalidate()
	return db.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM clients WHERE id = $1`, id)
		if err := expectOne(tag.RowsAffected(), err); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE certificates SET revoked_at = $1, revocation_reason = 'client deleted'
			WHERE client_id = $2 AND revoked_at IS NULL`, unix(now), id); err != nil {
			return err
		}
		return notify(ctx, tx, storage.ChangeClients, storage.ChangeCertificates)
	})
}

// DisableClient marks the client disabled at now, touching nothing else,
// so it cannot race with an administrator's concurrent change of other
// fields. Disabling a disabled client succeeds. Unknown → storage.ErrNotFound.
func (db *DB) DisableClient(ctx context.Context, id string, now time.Time) error {
	defer db.cache.invalidate()
	return db.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE clients SET disabled = true, updated_at = $1 WHERE id = $2`, unix(now), id)
		if err := expectOne(tag.RowsAffected(), err); err != nil {
			return err
		}
		return notify(ctx, tx, storage.ChangeClients)
	})
}

// ClientDisabled reports whether the client is disabled. An unknown client
// (deleted, say) counts as disabled: a certificate outliving its client
// must not authenticate. It reads the record through GetClient, so the
// status cache serves it.
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
	err := db.queryRow(ctx, `SELECT count(*) FROM clients`, nil, &n)
	return n, err
}
