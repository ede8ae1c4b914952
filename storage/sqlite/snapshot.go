package sqlite

import (
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/certbound/certbound/storage"
)

// Read-only views for audits and tests: a digest of every table, the fate of
// one enrollment token, and the consistency rules a crash must not break.
// None of these write.

// snapshotTables are the tables Snapshot covers, in a fixed order.
var snapshotTables = []string{"clients", "enroll_tokens", "certificates", "admin_keys", "signing_keys"}

// snapshotColumns replaces * for tables with a bookkeeping column that
// changes on its own time: admin_keys.last_used_at is written up to a minute
// after the requests it records, whatever they did.
var snapshotColumns = map[string]string{"admin_keys": "hash, name, created_at, expires_at, revoked_at"}

// TableSnapshot summarises one table.
type TableSnapshot struct {
	Name   string
	Rows   int
	Digest string // hex SHA-256 over every row, in rowid order
}

// Snapshot summarises the whole database: two snapshots are equal exactly
// when no row of any table was added, removed or changed (up to SHA-256
// collisions). It holds digests only, never a value, so it may be logged.
type Snapshot struct {
	Tables []TableSnapshot
}

// Diff returns the names of the tables that differ between s and o.
func (s Snapshot) Diff(o Snapshot) []string {
	var out []string
	for _, t := range s.Tables {
		i := slices.IndexFunc(o.Tables, func(u TableSnapshot) bool { return u.Name == t.Name })
		if i < 0 || o.Tables[i] != t {
			out = append(out, t.Name)
		}
	}
	for _, u := range o.Tables {
		if !slices.ContainsFunc(s.Tables, func(t TableSnapshot) bool { return t.Name == u.Name }) {
			out = append(out, u.Name)
		}
	}
	return out
}

// Rows returns the row count of table, or -1 if the snapshot lacks it.
func (s Snapshot) Rows(table string) int {
	for _, t := range s.Tables {
		if t.Name == table {
			return t.Rows
		}
	}
	return -1
}

// Snapshot reads every table in one read transaction, so the result is a
// consistent point-in-time view.
func (db *DB) Snapshot(ctx context.Context) (Snapshot, error) {
	tx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return Snapshot{}, err
	}
	defer tx.Rollback()
	var snap Snapshot
	for _, name := range snapshotTables {
		ts, err := snapshotTable(ctx, tx, name)
		if err != nil {
			return Snapshot{}, fmt.Errorf("storage: snapshot %s: %w", name, err)
		}
		snap.Tables = append(snap.Tables, ts)
	}
	return snap, nil
}

func snapshotTable(ctx context.Context, tx *sql.Tx, name string) (TableSnapshot, error) {
	// name comes from snapshotTables, never from a caller.
	selected := cmp.Or(snapshotColumns[name], "*")
	rows, err := tx.QueryContext(ctx, `SELECT `+selected+` FROM `+name+` ORDER BY rowid`)
	if err != nil {
		return TableSnapshot{}, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return TableSnapshot{}, err
	}
	h := sha256.New()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	ts := TableSnapshot{Name: name}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return TableSnapshot{}, err
		}
		for _, v := range vals {
			// Type-tagged and length-prefixed, so that no two different
			// rows hash the same.
			b := fmt.Appendf(nil, "%T:%v", v, v)
			fmt.Fprintf(h, "%d:", len(b))
			h.Write(b)
		}
		h.Write([]byte{'\n'})
		ts.Rows++
	}
	if err := rows.Err(); err != nil {
		return TableSnapshot{}, err
	}
	ts.Digest = hex.EncodeToString(h.Sum(nil))
	return ts, nil
}

// EnrollTokenUse tells what became of the enrollment token with this hash:
// whether it was redeemed and for which certificate serial. Unknown →
// ErrNotFound.
func (db *DB) EnrollTokenUse(ctx context.Context, hash []byte) (used bool, serial string, err error) {
	var usedAt sql.NullInt64
	var usedSerial sql.NullString
	err = db.read.QueryRowContext(ctx, `SELECT used_at, used_serial FROM enroll_tokens WHERE hash = ?`, hash).
		Scan(&usedAt, &usedSerial)
	if errors.Is(err, sql.ErrNoRows) {
		return false, "", storage.ErrNotFound
	}
	return usedAt.Valid, usedSerial.String, err
}

// consistencyRules are queries that return one row (a non-secret description)
// per violation of a rule the transactions guarantee. A crash at any moment
// must leave every one of them empty.
var consistencyRules = []struct{ name, query string }{
	{"a redeemed enrollment token names no recorded certificate",
		`SELECT 'token for ' || client_id FROM enroll_tokens t WHERE used_at IS NOT NULL
		 AND (used_serial IS NULL OR NOT EXISTS (SELECT 1 FROM certificates c WHERE c.serial = t.used_serial))`},
	{"two enrollment tokens name the same certificate",
		`SELECT used_serial FROM enroll_tokens WHERE used_serial IS NOT NULL GROUP BY used_serial HAVING count(*) > 1`},
	{"an enrollment token names a certificate but is unused",
		`SELECT used_serial FROM enroll_tokens WHERE used_at IS NULL AND used_serial IS NOT NULL`},
	{"a renewal's predecessor is missing or does not point back",
		`SELECT c.serial FROM certificates c WHERE c.renewed_from IS NOT NULL AND NOT EXISTS
		 (SELECT 1 FROM certificates p WHERE p.serial = c.renewed_from AND p.superseded_by = c.serial)`},
	{"a superseded certificate's successor is missing or does not point back",
		`SELECT c.serial FROM certificates c WHERE c.superseded_by IS NOT NULL AND NOT EXISTS
		 (SELECT 1 FROM certificates n WHERE n.serial = c.superseded_by AND n.renewed_from = c.serial)`},
}

// CheckConsistency runs PRAGMA integrity_check and the lineage rules above
// and returns one line per problem; none means the database is sound.
func (db *DB) CheckConsistency(ctx context.Context) ([]string, error) {
	var problems []string
	res, err := db.IntegrityCheck(ctx)
	if err != nil {
		return nil, err
	}
	if res != "ok" {
		problems = append(problems, "integrity_check: "+res)
	}
	for _, r := range consistencyRules {
		rows, err := db.read.QueryContext(ctx, r.query)
		if err != nil {
			return nil, fmt.Errorf("storage: consistency %q: %w", r.name, err)
		}
		for rows.Next() {
			var what string
			if err := rows.Scan(&what); err != nil {
				rows.Close()
				return nil, err
			}
			problems = append(problems, r.name+": "+what)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, err
		}
	}
	return problems, nil
}

// OpenReadOnly opens an existing database for reading only, alongside a
// server that may be using it: no file is created, no migration runs, and
// every statement that would write fails. Its schema must be one this binary
// knows. It has no status cache (statuscache.go): the server's writes are
// another process's, so GetClient, ClientDisabled and CertificateRevoked
// always read the file.
func OpenReadOnly(ctx context.Context, path string) (*DB, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	read, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	read.SetMaxOpenConns(2)
	// Writes go to the read-only pool too, and fail there.
	db := &DB{write: read, read: read, path: path}
	db.cache.off = true
	var version int
	if err := read.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		read.Close()
		return nil, fmt.Errorf("storage: read schema version: %w", err)
	}
	entries, err := migrations.ReadDir("migrations")
	if err != nil {
		read.Close()
		return nil, err
	}
	if version != len(entries) {
		read.Close()
		return nil, fmt.Errorf("storage: database schema version %d, this binary knows %d", version, len(entries))
	}
	return db, nil
}
