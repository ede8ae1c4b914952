package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/certbound/certbound/storage"
	"github.com/certbound/certbound/storage/sqlite"
	"github.com/certbound/certbound/storage/sqlite/sqlitetest"
)

func insertAdminKey(t *testing.T, db *sqlite.DB, name string, expires time.Time) {
	t.Helper()
	if err := db.InsertAdminKey(context.Background(), storage.AdminKey{Name: name, Hash: hash("key-" + name), CreatedAt: t0, ExpiresAt: expires}); err != nil {
		t.Fatalf("InsertAdminKey(%s): %v", name, err)
	}
}

func adminKey(t *testing.T, db *sqlite.DB, name string) storage.AdminKey {
	t.Helper()
	keys, err := db.AdminKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k.Name == name {
			return k
		}
	}
	t.Fatalf("no admin key %s in %+v", name, keys)
	return storage.AdminKey{}
}

func TestAdminKeysStoreOnlyHashes(t *testing.T) {
	ctx := context.Background()
	db := sqlitetest.Open(t)
	const key = "cba_the-admin-secret-value"
	if err := db.InsertAdminKey(ctx, storage.AdminKey{Name: "bootstrap", Hash: hash(key), CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	keys, err := db.AdminKeys(ctx)
	if err != nil || len(keys) != 1 || !bytes.Equal(keys[0].Hash, hash(key)) || keys[0].Name != "bootstrap" ||
		!keys[0].CreatedAt.Equal(t0) || !keys[0].ExpiresAt.IsZero() || !keys[0].Valid(t0.Add(100*365*24*time.Hour)) {
		t.Fatalf("keys = %+v %v", keys, err)
	}
	db.Close()
	raw, _ := os.ReadFile(db.Path())
	wal, _ := os.ReadFile(db.Path() + "-wal")
	if bytes.Contains(append(raw, wal...), []byte(key)) {
		t.Fatal("the admin key itself reached the database file")
	}
}

func TestAdminKeyNamesAreUnique(t *testing.T) {
	db := sqlitetest.Open(t)
	insertAdminKey(t, db, "ci", time.Time{})
	err := db.InsertAdminKey(context.Background(), storage.AdminKey{Name: "ci", Hash: hash("another key"), CreatedAt: t0})
	if !errors.Is(err, storage.ErrAdminKeyExists) || !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("duplicate name: %v", err)
	}
	// A revoked key keeps its name.
	insertAdminKey(t, db, "other", time.Time{})
	if err := db.RevokeAdminKey(context.Background(), "ci", t0); err != nil {
		t.Fatal(err)
	}
	err = db.InsertAdminKey(context.Background(), storage.AdminKey{Name: "ci", Hash: hash("a third key"), CreatedAt: t0})
	if !errors.Is(err, storage.ErrAdminKeyExists) {
		t.Fatalf("name of a revoked key reused: %v", err)
	}
}

func TestRevokeAdminKey(t *testing.T) {
	now := t0.Add(time.Hour)
	for _, tc := range []struct {
		name    string
		keys    map[string]time.Time // name → expiry (zero: never)
		revoked []string             // revoked before
		revoke  string
		want    error
	}{
		{name: "accept/one of two valid keys", keys: map[string]time.Time{"a": {}, "b": {}}, revoke: "a"},
		{name: "accept/an expired key while another is valid", keys: map[string]time.Time{"a": {}, "old": t0}, revoke: "old"},
		{name: "accept/the only key, expired", keys: map[string]time.Time{"old": t0}, revoke: "old"},
		{name: "accept/a key expiring later than now", keys: map[string]time.Time{"a": {}, "b": now.Add(time.Minute)}, revoke: "a"},
		{name: "reject/unknown name", keys: map[string]time.Time{"a": {}}, revoke: "nope", want: storage.ErrAdminKeyNotFound},
		{name: "reject/revoked before", keys: map[string]time.Time{"a": {}, "b": {}}, revoked: []string{"b"}, revoke: "b", want: storage.ErrAdminKeyRevoked},
		{name: "reject/the only key", keys: map[string]time.Time{"a": {}}, revoke: "a", want: storage.ErrLastAdminKey},
		{name: "reject/the last valid key, the others expired", keys: map[string]time.Time{"a": {}, "old": t0, "now": now}, revoke: "a", want: storage.ErrLastAdminKey},
		{name: "reject/the last valid key, the other revoked", keys: map[string]time.Time{"a": {}, "b": {}}, revoked: []string{"b"}, revoke: "a", want: storage.ErrLastAdminKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			db := sqlitetest.Open(t)
			for name, exp := range tc.keys {
				insertAdminKey(t, db, name, exp)
			}
			for _, name := range tc.revoked {
				if err := db.RevokeAdminKey(ctx, name, t0); err != nil {
					t.Fatal(err)
				}
			}
			before, err := db.AdminKeys(ctx)
			if err != nil {
				t.Fatal(err)
			}
			err = db.RevokeAdminKey(ctx, tc.revoke, now)
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("RevokeAdminKey(%s) = %v, want %v", tc.revoke, err, tc.want)
			}
			after, _ := db.AdminKeys(ctx)
			if tc.want != nil {
				if !reflect.DeepEqual(before, after) {
					t.Fatalf("a refused revocation changed the records:\n%+v\n%+v", before, after)
				}
				return
			}
			if k := adminKey(t, db, tc.revoke); !k.RevokedAt.Equal(now) || k.Valid(now) {
				t.Fatalf("after revocation: %+v", k)
			}
		})
	}
}

// Two revocations at once of the only two valid keys: exactly one wins, so
// a valid key always remains.
func TestRevokeAdminKeyConcurrentlyLeavesOneValid(t *testing.T) {
	for range 20 {
		db := sqlitetest.Open(t)
		insertAdminKey(t, db, "a", time.Time{})
		insertAdminKey(t, db, "b", time.Time{})
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, name := range []string{"a", "b"} {
			wg.Go(func() { errs[i] = db.RevokeAdminKey(context.Background(), name, t0) })
		}
		wg.Wait()
		ok, last := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, storage.ErrLastAdminKey):
				last++
			default:
				t.Fatal(err)
			}
		}
		if ok != 1 || last != 1 {
			t.Fatalf("revoked %d, refused %d; want 1 and 1", ok, last)
		}
	}
}

func TestRecordAdminKeyUseKeepsTheNewest(t *testing.T) {
	ctx := context.Background()
	db := sqlitetest.Open(t)
	insertAdminKey(t, db, "a", time.Time{})
	if k := adminKey(t, db, "a"); !k.LastUsedAt.IsZero() {
		t.Fatalf("new key already used: %+v", k)
	}
	later, earlier := t0.Add(2*time.Minute), t0.Add(time.Minute)
	if err := db.RecordAdminKeyUse(ctx, map[string]time.Time{"a": later, "unknown": later}); err != nil {
		t.Fatal(err)
	}
	if err := db.RecordAdminKeyUse(ctx, map[string]time.Time{"a": earlier}); err != nil {
		t.Fatal(err)
	}
	if k := adminKey(t, db, "a"); !k.LastUsedAt.Equal(later) {
		t.Fatalf("last used %s, want %s", k.LastUsedAt, later)
	}
}

func TestAuditEventsNameTheAdminKey(t *testing.T) {
	ctx := context.Background()
	db := sqlitetest.Open(t)
	in := []storage.AuditEvent{
		{At: t0, Type: "admin_key.created", AdminKey: "bootstrap", TargetKey: "ci"},
		{At: t0, Type: "client.created", ClientID: "svc", AdminKey: "ci"},
		{At: t0, Type: "certificate.issued", ClientID: "svc"},
	}
	if err := db.AppendAuditEvents(ctx, in); err != nil {
		t.Fatal(err)
	}
	out, err := db.ListAuditEvents(ctx, storage.AuditFilter{})
	if err != nil || len(out) != 3 {
		t.Fatalf("%+v %v", out, err)
	}
	for i := range in {
		if out[i].AdminKey != in[i].AdminKey || out[i].TargetKey != in[i].TargetKey {
			t.Errorf("event %d: admin key %q target %q, want %q %q", i, out[i].AdminKey, out[i].TargetKey, in[i].AdminKey, in[i].TargetKey)
		}
	}
}

// A database made before admin keys had names keeps its bootstrap key,
// valid and never expiring, through migration 0006.
func TestMigrationKeepsTheBootstrapKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "certbound.db")
	old, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("migrations/000[1-5]_*.sql")
	if len(files) != 5 {
		t.Fatalf("migrations 0001-0005: %v", files)
	}
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := old.Exec(string(body)); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	if _, err := old.Exec(`INSERT INTO admin_keys (hash, name, created_at) VALUES (?, 'bootstrap', ?); PRAGMA user_version = 5`,
		hash("old key"), t0.Unix()); err != nil {
		t.Fatal(err)
	}
	old.Close()

	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	k := adminKey(t, db, "bootstrap")
	if !bytes.Equal(k.Hash, hash("old key")) || !k.Valid(t0.Add(10*365*24*time.Hour)) || !k.CreatedAt.Equal(t0) {
		t.Fatalf("bootstrap after migration: %+v", k)
	}
	if err := db.RevokeAdminKey(context.Background(), "bootstrap", t0); !errors.Is(err, storage.ErrLastAdminKey) {
		t.Fatalf("revoking the migrated only key: %v", err)
	}
}
