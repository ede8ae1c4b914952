package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/certbound/certbound/storage"
)

// caInitLock is the pg_advisory_xact_lock key that makes InitCA's check and
// create one step across replicas ("certboundCA" folded into 8 bytes).
const caInitLock int64 = 0x6365727462_4341

// InitCA returns the stored CA, first calling create and storing its result
// when none is stored yet (storage.SharedCA). The check, create and insert
// run in one transaction holding a transaction-scoped advisory lock: of
// replicas starting together on an empty database, one creates the CA and
// the others wait for its commit, then load what it stored. created reports
// whether this call's create was stored. create runs at most once per call,
// with the lock held; an error from it stores nothing.
func (db *DB) InitCA(ctx context.Context, create func() (storage.CAMaterial, error)) (m storage.CAMaterial, created bool, err error) {
	// Not inTx: create must not run twice, and the advisory lock leaves
	// nothing to deadlock on.
	err = translate(pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, caInitLock); err != nil {
			return err
		}
		m, err = loadCA(ctx, tx)
		if !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		if m, err = create(); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO ca_material (root_cert_pem, root_key_pem, intermediate_cert_pem, intermediate_key_pem, created_at)
			VALUES ($1, $2, $3, $4, $5)`, m.RootCertPEM, m.RootKeyPEM, m.IntermediateCertPEM, m.IntermediateKeyPEM, unix(m.CreatedAt)); err != nil {
			return err
		}
		created = true
		return nil
	}))
	if err != nil {
		return storage.CAMaterial{}, false, err
	}
	if created {
		m.CreatedAt = fromUnix(unix(m.CreatedAt)) // as LoadCA will return it
	}
	return m, created, nil
}

// LoadCA returns the stored CA, or storage.ErrNotFound.
func (db *DB) LoadCA(ctx context.Context) (storage.CAMaterial, error) {
	var m storage.CAMaterial
	err := db.retry(ctx, func() error {
		var err error
		m, err = loadCA(ctx, db.pool)
		return err
	})
	return m, err
}

func loadCA(ctx context.Context, q querier) (storage.CAMaterial, error) {
	var m storage.CAMaterial
	var created int64
	err := q.QueryRow(ctx, `SELECT root_cert_pem, root_key_pem, intermediate_cert_pem, intermediate_key_pem, created_at
		FROM ca_material`).Scan(&m.RootCertPEM, &m.RootKeyPEM, &m.IntermediateCertPEM, &m.IntermediateKeyPEM, &created)
	if err != nil {
		return storage.CAMaterial{}, translate(err)
	}
	m.CreatedAt = fromUnix(created)
	return m, nil
}
