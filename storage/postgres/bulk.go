package postgres

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/certbound/certbound/storage"
)

// ImportClients inserts many client records in one transaction with COPY:
// for loading a registry from elsewhere, and for the benchmark suite's
// 100,000-client database. Any conflict (an existing id) rolls the whole
// import back with storage.ErrConflict. The same method as storage/sqlite's.
func (db *DB) ImportClients(ctx context.Context, cs []storage.Client) error {
	defer db.cache.invalidate()
	return db.inTx(ctx, func(tx pgx.Tx) error {
		rows := make([][]any, len(cs))
		for i, c := range cs {
			rows[i] = clientValues(c)
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"clients"}, columnList(clientColumns), pgx.CopyFromRows(rows)); err != nil {
			return err
		}
		return notify(ctx, tx, storage.ChangeClients)
	})
}

// ImportCertificates inserts many certificate records, revocation and
// lineage fields included, in one transaction with COPY (see
// ImportClients). A duplicate serial rolls the whole import back with
// storage.ErrConflict.
func (db *DB) ImportCertificates(ctx context.Context, cs []storage.Certificate) error {
	defer db.cache.invalidate()
	return db.inTx(ctx, func(tx pgx.Tx) error {
		rows := make([][]any, len(cs))
		for i, c := range cs {
			rows[i] = []any{c.Serial, c.ClientID, c.Fingerprint, unix(c.NotBefore), unix(c.NotAfter), nullText(c.RenewedFrom),
				nullText(c.SupersededBy), nullUnix(c.RevokedAt), c.RevocationReason, unix(c.CreatedAt)}
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"certificates"}, columnList(certificateColumns), pgx.CopyFromRows(rows)); err != nil {
			return err
		}
		return notify(ctx, tx, storage.ChangeCertificates)
	})
}

// columnList splits a comma-separated column list.
func columnList(columns string) []string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		cols[i] = strings.TrimSpace(c)
	}
	return cols
}
