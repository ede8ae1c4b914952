package storage

import (
	"context"
	"errors"
)

// Table is one table both backends hold, with the columns they share: the
// schemas mirror each other (times as Unix seconds or milliseconds, blobs,
// text), so a row copies from one backend to the other value for value.
type Table struct {
	Name    string
	Columns []string
	// OrderBy orders the rows for export and digests. Empty: the order the
	// rows were inserted in (SQLite's rowid, PostgreSQL's seq column) —
	// signing keys, whose rotation order is that order.
	OrderBy string
}

// Tables lists every table a copy moves, parents before children (the
// enrollment tokens reference the clients).
var Tables = []Table{
	{Name: "clients", OrderBy: "id", Columns: []string{"id", "name", "scopes", "audiences", "grant_types",
		"auth_method", "san_uri", "thumbprints", "self_signed_pem", "secret_hash", "access_token_ttl",
		"disabled", "created_at", "updated_at", "generation"}},
	{Name: "enroll_tokens", OrderBy: "hash", Columns: []string{"hash", "client_id", "dns_names",
		"created_at", "expires_at", "used_at", "used_serial"}},
	{Name: "certificates", OrderBy: "serial", Columns: []string{"serial", "client_id", "fingerprint",
		"not_before", "not_after", "renewed_from", "superseded_by", "revoked_at", "revocation_reason",
		"created_at", "first_used_at", "clone_suspect_of"}},
	{Name: "admin_keys", OrderBy: "hash", Columns: []string{"hash", "name", "created_at", "expires_at",
		"last_used_at", "revoked_at"}},
	{Name: "signing_keys", Columns: []string{"kid", "alg", "private_pem", "created_at", "retired_at",
		"publish_until"}},
	{Name: "audit_events", OrderBy: "id", Columns: []string{"id", "at", "type", "client_id", "serial",
		"reason", "remote", "request_id", "count", "admin_key", "target_key"}},
}

// ErrNotEmpty: ImportRows refused a database that already holds records
// (a copy never merges into an install).
var ErrNotEmpty = errors.New("storage: the target database is not empty")

// RowCopier is implemented by both backends for `certbound db copy`. Row
// values are nil (NULL), int64 (integers and booleans, as 0 or 1), string
// or []byte, in Table.Columns order.
type RowCopier interface {
	// ExportRows calls fn with every row of t, in t's order.
	ExportRows(ctx context.Context, t Table, fn func(row []any) error) error
	// ImportRows inserts, in one transaction, the rows src gives for every
	// table of Tables, in that order. It fails with ErrNotEmpty, writing
	// nothing, when any of the tables holds a row.
	ImportRows(ctx context.Context, src func(ctx context.Context, t Table, fn func(row []any) error) error) error
}
