package storagetest

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/certbound/certbound/storage"
)

func (f *fixture) adminKey(name string, expires time.Time) {
	f.t.Helper()
	if err := f.s.InsertAdminKey(f.ctx, storage.AdminKey{Name: name, Hash: hash("key-" + name), CreatedAt: t0, ExpiresAt: expires}); err != nil {
		f.t.Fatalf("InsertAdminKey(%s): %v", name, err)
	}
}

func (f *fixture) adminKeyNamed(name string) storage.AdminKey {
	f.t.Helper()
	keys, err := f.s.AdminKeys(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, k := range keys {
		if k.Name == name {
			return k
		}
	}
	f.t.Fatalf("no admin key %s in %+v", name, keys)
	return storage.AdminKey{}
}

func adminKeys(t *testing.T, open Opener) {
	t.Run("accept/a key reads back with its hash, oldest first", func(t *testing.T) {
		f := newFixture(t, open)
		if err := f.s.InsertAdminKey(f.ctx, storage.AdminKey{Name: "bootstrap", Hash: hash("k1"), CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		if err := f.s.InsertAdminKey(f.ctx, storage.AdminKey{Name: "ci", Hash: hash("k2"), CreatedAt: t0.Add(time.Minute), ExpiresAt: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		keys, err := f.s.AdminKeys(f.ctx)
		if err != nil || len(keys) != 2 {
			t.Fatalf("AdminKeys = %+v, %v", keys, err)
		}
		b, ci := keys[0], keys[1]
		if b.Name != "bootstrap" || !bytes.Equal(b.Hash, hash("k1")) || !b.CreatedAt.Equal(t0) || !b.ExpiresAt.IsZero() ||
			!b.LastUsedAt.IsZero() || !b.RevokedAt.IsZero() || !b.Valid(t0.Add(100*365*24*time.Hour)) {
			t.Fatalf("bootstrap: %+v", b)
		}
		if ci.Name != "ci" || !bytes.Equal(ci.Hash, hash("k2")) || !ci.ExpiresAt.Equal(t0.Add(time.Hour)) || ci.Valid(t0.Add(time.Hour)) {
			t.Fatalf("ci: %+v", ci)
		}
	})
	t.Run("reject/a taken name is ErrAdminKeyExists, also after revocation", func(t *testing.T) {
		f := newFixture(t, open)
		f.adminKey("ci", time.Time{})
		f.adminKey("other", time.Time{})
		err := f.s.InsertAdminKey(f.ctx, storage.AdminKey{Name: "ci", Hash: hash("another key"), CreatedAt: t0})
		if !errors.Is(err, storage.ErrAdminKeyExists) || !errors.Is(err, storage.ErrConflict) {
			t.Fatalf("InsertAdminKey(taken name) = %v, want ErrAdminKeyExists (an ErrConflict)", err)
		}
		if err := f.s.RevokeAdminKey(f.ctx, "ci", t0); err != nil {
			t.Fatal(err)
		}
		err = f.s.InsertAdminKey(f.ctx, storage.AdminKey{Name: "ci", Hash: hash("a third key"), CreatedAt: t0})
		if !errors.Is(err, storage.ErrAdminKeyExists) {
			t.Fatalf("the name of a revoked key reused: %v", err)
		}
		if k := f.adminKeyNamed("ci"); !bytes.Equal(k.Hash, hash("key-ci")) {
			t.Fatal("a refused insert replaced the key")
		}
	})
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
		{name: "accept/a key while another expires later than now", keys: map[string]time.Time{"a": {}, "b": now.Add(time.Minute)}, revoke: "a"},
		{name: "reject/an unknown name is ErrAdminKeyNotFound", keys: map[string]time.Time{"a": {}}, revoke: "nope", want: storage.ErrAdminKeyNotFound},
		{name: "reject/a revoked key is ErrAdminKeyRevoked", keys: map[string]time.Time{"a": {}, "b": {}}, revoked: []string{"b"}, revoke: "b", want: storage.ErrAdminKeyRevoked},
		{name: "reject/the only key is ErrLastAdminKey", keys: map[string]time.Time{"a": {}}, revoke: "a", want: storage.ErrLastAdminKey},
		{name: "reject/the last valid key, the others expired", keys: map[string]time.Time{"a": {}, "old": t0, "now": now}, revoke: "a", want: storage.ErrLastAdminKey},
		{name: "reject/the last valid key, the other revoked", keys: map[string]time.Time{"a": {}, "b": {}}, revoked: []string{"b"}, revoke: "a", want: storage.ErrLastAdminKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, open)
			for name, exp := range tc.keys {
				f.adminKey(name, exp)
			}
			for _, name := range tc.revoked {
				if err := f.s.RevokeAdminKey(f.ctx, name, t0); err != nil {
					t.Fatal(err)
				}
			}
			before, err := f.s.AdminKeys(f.ctx)
			if err != nil {
				t.Fatal(err)
			}
			err = f.s.RevokeAdminKey(f.ctx, tc.revoke, now)
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("RevokeAdminKey(%s) = %v, want %v", tc.revoke, err, tc.want)
			}
			if tc.want != nil {
				if after, _ := f.s.AdminKeys(f.ctx); !reflect.DeepEqual(before, after) {
					t.Fatalf("a refused revocation changed the records:\n%+v\n%+v", before, after)
				}
				return
			}
			if k := f.adminKeyNamed(tc.revoke); !k.RevokedAt.Equal(now) || k.Valid(now) {
				t.Fatalf("after the revocation: %+v", k)
			}
		})
	}
	t.Run("concurrency/two revocations of the two valid keys leave one valid", func(t *testing.T) {
		f := newFixture(t, open)
		// Round i's keys expire when round i+1 begins, so each round starts
		// with exactly two valid keys.
		for i := range 10 {
			now := t0.Add(time.Duration(i) * time.Hour)
			names := []string{fmt.Sprint("a", i), fmt.Sprint("b", i)}
			for _, name := range names {
				if err := f.s.InsertAdminKey(f.ctx, storage.AdminKey{Name: name, Hash: hash("key-" + name), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
					t.Fatal(err)
				}
			}
			errs := make([]error, 2)
			race(2, func(i int) { errs[i] = f.s.RevokeAdminKey(f.ctx, names[i], now) })
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
				t.Fatalf("round %d: revoked %d, refused %d; want 1 and 1", i, ok, last)
			}
		}
	})
	t.Run("accept/RecordAdminKeyUse keeps the newest use and skips unknown names", func(t *testing.T) {
		f := newFixture(t, open)
		f.adminKey("a", time.Time{})
		f.adminKey("b", time.Time{})
		later, earlier := t0.Add(2*time.Minute), t0.Add(time.Minute)
		if err := f.s.RecordAdminKeyUse(f.ctx, map[string]time.Time{"a": later, "unknown": later}); err != nil {
			t.Fatal(err)
		}
		if err := f.s.RecordAdminKeyUse(f.ctx, map[string]time.Time{"a": earlier, "b": earlier}); err != nil {
			t.Fatal(err)
		}
		if err := f.s.RecordAdminKeyUse(f.ctx, nil); err != nil {
			t.Fatal(err)
		}
		if k := f.adminKeyNamed("a"); !k.LastUsedAt.Equal(later) {
			t.Fatalf("a last used %s, want %s", k.LastUsedAt, later)
		}
		if k := f.adminKeyNamed("b"); !k.LastUsedAt.Equal(earlier) {
			t.Fatalf("b last used %s, want %s", k.LastUsedAt, earlier)
		}
		if keys, _ := f.s.AdminKeys(f.ctx); len(keys) != 2 {
			t.Fatalf("a use of an unknown name made a record: %+v", keys)
		}
	})
}
