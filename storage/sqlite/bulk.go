package sqlite

import (
	"context"
	"database/sql"

	"github.com/certbound/certbound/storage"
)

// ImportClients inserts many client records in one transaction with one
// prepared statement: for loading a registry from elsewhere, and for the
// benchmark suite's 100,000-client database. Any conflict (an existing id)
// rolls the whole import back with ErrConflict.
func (db *DB) ImportClients(ctx context.Context, cs []storage.Client) error {
	defer db.cache.invalidate()
	return db.inTx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO clients (`+clientColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, c := range cs {
			_, err := st.ExecContext(ctx, c.ID, c.Name, spaceList(c.Scopes), jsonList(c.Audiences), jsonList(c.GrantTypes),
				c.AuthMethod, c.SANURI, jsonList(c.Thumbprints), c.SelfSignedPEM, c.SecretHash,
				int64(c.AccessTokenTTL.Seconds()), c.Disabled, unix(c.CreatedAt), unix(c.UpdatedAt), generation(c.Generation))
			if err != nil {
				return translate(err)
			}
		}
		return nil
	})
}

// ImportCertificates inserts many certificate records, revocation and
// lineage fields included, in one transaction with one prepared statement
// (see ImportClients). A duplicate serial rolls the whole
// import back with ErrConflict.
func (db *DB) ImportCertificates(ctx context.Context, cs []storage.Certificate) error {
	defer db.cache.invalidate()
	return db.inTx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO certificates (`+certificateColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, c := range cs {
			_, err := st.ExecContext(ctx, c.Serial, c.ClientID, c.Fingerprint, unix(c.NotBefore), unix(c.NotAfter),
				sql.NullString{String: c.RenewedFrom, Valid: c.RenewedFrom != ""},
				sql.NullString{String: c.SupersededBy, Valid: c.SupersededBy != ""},
				nullUnix(c.RevokedAt), c.RevocationReason, unix(c.CreatedAt))
			if err != nil {
				return translate(err)
			}
		}
		return nil
	})
}
