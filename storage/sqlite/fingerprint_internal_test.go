package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestMigrationToRevokedOnlyFingerprintIndexKeepsEveryRecord builds a
// database at schema version 4 (a UNIQUE fingerprint on every certificate),
// then opens it with this binary: every record survives whole, the
// fingerprint is indexed only for revoked certificates, and the lookup
// introspection makes still finds them.
func TestMigrationToRevokedOnlyFingerprintIndexKeepsEveryRecord(t *testing.T) {
	ctx := context.Background()
	raw, path := databaseAtVersion(t, 4)
	const rows = 300 // every third revoked, every seventh used
	for i := range rows {
		var revoked, used any
		if i%3 == 0 {
			revoked = int64(1_800_000_000 + i)
		}
		if i%7 == 0 {
			used = int64(1_700_000_500 + i)
		}
		_, err := raw.ExecContext(ctx, `INSERT INTO certificates (serial, client_id, fingerprint, not_before,
			not_after, renewed_from, superseded_by, revoked_at, revocation_reason, created_at, first_used_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			fmt.Sprintf("%04x", i), fmt.Sprintf("svc-%d", i%5), fmt.Sprintf("fp-%04x", i), 1_700_000_000+i,
			1_700_086_400+i, fmt.Sprintf("r-%d", i), nil, revoked, "why", 1_700_000_000+i, used)
		if err != nil {
			t.Fatal(err)
		}
	}
	before := dumpCertificates(t, raw)
	raw.Close()

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("open the version 4 database: %v", err)
	}
	defer db.Close()
	if after := dumpCertificates(t, db.read); !slices.Equal(before, after) {
		t.Fatalf("records changed by the migration:\nbefore %v\nafter  %v", before[:3], after[:3])
	}
	indexes := queryStrings(t, db.read, `SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'certificates' ORDER BY name`)
	want := []string{"certificates_client", "certificates_clone_suspect", "certificates_clone_suspect_fingerprint", // partial (0007)
		"certificates_revoked", "certificates_revoked_fingerprint", "sqlite_autoindex_certificates_1"}
	if !slices.Equal(indexes, want) {
		t.Fatalf("indexes on certificates = %v, want %v (the serial's and no UNIQUE fingerprint)", indexes, want)
	}
	for i := range rows {
		got, err := db.FingerprintRevoked(ctx, fmt.Sprintf("fp-%04x", i))
		if err != nil || got != (i%3 == 0) {
			t.Fatalf("FingerprintRevoked(fp-%04x) = %v, %v; want %v", i, got, err, i%3 == 0)
		}
	}
	if res, err := db.IntegrityCheck(ctx); err != nil || res != "ok" {
		t.Fatalf("integrity_check = %q, %v", res, err)
	}
}

func dumpCertificates(t *testing.T, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}) []string {
	t.Helper()
	rs, err := q.QueryContext(context.Background(), `SELECT serial, client_id, fingerprint, not_before, not_after,
		renewed_from, superseded_by, revoked_at, revocation_reason, created_at, first_used_at FROM certificates ORDER BY serial`)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var out []string
	for rs.Next() {
		v := make([]any, 11)
		p := make([]any, len(v))
		for i := range v {
			p[i] = &v[i]
		}
		if err := rs.Scan(p...); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprint(v...))
	}
	if len(out) == 0 {
		t.Fatal("no certificates")
	}
	return out
}

// TestFingerprintLookupUsesTheRevokedOnlyIndex: the introspection lookup must
// be answered by the partial index, not by a scan of every certificate
// (which a query without the index's condition would fall back to).
func TestFingerprintLookupUsesTheRevokedOnlyIndex(t *testing.T) {
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "db.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rs, err := db.read.Query("EXPLAIN QUERY PLAN "+fingerprintRevokedQuery, "00")
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var plan []string // rows of (id, parent, notused, detail)
	for rs.Next() {
		var id, parent, notused int
		var detail string
		if err := rs.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if p := strings.Join(plan, "; "); !strings.Contains(p, "INDEX certificates_revoked_fingerprint (fingerprint=?)") {
		t.Fatalf("query plan %q does not search certificates_revoked_fingerprint", p)
	}
}

// queryStrings returns the single text column of every row of query.
func queryStrings(t *testing.T, db *sql.DB, query string, args ...any) []string {
	t.Helper()
	rs, err := db.Query(query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var out []string
	for rs.Next() {
		var v string
		if err := rs.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
