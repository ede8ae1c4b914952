package sqlite_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/certbound/certbound/storage"
	"github.com/certbound/certbound/storage/sqlite"
	"github.com/certbound/certbound/storage/sqlite/sqlitetest"
)

func TestSnapshotSeesEveryChangeAndNothingElse(t *testing.T) {
	ctx := context.Background()
	db := sqlitetest.Open(t)
	snap := func() sqlite.Snapshot {
		t.Helper()
		s, err := db.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	empty := snap()
	if d := empty.Diff(snap()); len(d) != 0 {
		t.Fatalf("two snapshots of an unchanged database differ in %v", d)
	}
	newClient(t, db, "svc")
	withClient := snap()
	if d := empty.Diff(withClient); !slices.Equal(d, []string{"clients"}) || withClient.Rows("clients") != 1 {
		t.Fatalf("after a client: diff %v, rows %d", d, withClient.Rows("clients"))
	}
	tok := storage.EnrollToken{Hash: hash("t1"), ClientID: "svc", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	if err := db.InsertEnrollToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	withToken := snap()
	if d := withClient.Diff(withToken); !slices.Equal(d, []string{"enroll_tokens"}) {
		t.Fatalf("after a token: diff %v", d)
	}
	// A change of one column of one row shows.
	if err := db.DisableClient(ctx, "svc", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if d := withToken.Diff(snap()); !slices.Equal(d, []string{"clients"}) {
		t.Fatalf("after disabling: diff %v", d)
	}
	// A refused redemption changes nothing.
	before := snap()
	_, err := db.RedeemEnrollToken(ctx, hash("t1"), t0, func(storage.EnrollToken, storage.Client) (storage.Certificate, error) {
		return storage.Certificate{}, errors.New("refused")
	})
	if err == nil {
		t.Fatal("redemption with a failing issue func succeeded")
	}
	if d := before.Diff(snap()); len(d) != 0 {
		t.Fatalf("a rolled back redemption changed %v", d)
	}
}

func TestEnrollTokenUseAndConsistency(t *testing.T) {
	ctx := context.Background()
	db := sqlitetest.Open(t)
	newClient(t, db, "svc")
	for _, h := range []string{"a", "b"} {
		if err := db.InsertEnrollToken(ctx, storage.EnrollToken{Hash: hash(h), ClientID: "svc", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.RedeemEnrollToken(ctx, hash("a"), t0, certFor("01")); err != nil {
		t.Fatal(err)
	}
	if used, serial, err := db.EnrollTokenUse(ctx, hash("a")); err != nil || !used || serial != "01" {
		t.Fatalf("redeemed token: used=%v serial=%q err=%v", used, serial, err)
	}
	if used, serial, err := db.EnrollTokenUse(ctx, hash("b")); err != nil || used || serial != "" {
		t.Fatalf("unused token: used=%v serial=%q err=%v", used, serial, err)
	}
	if _, _, err := db.EnrollTokenUse(ctx, hash("nope")); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("unknown token: %v", err)
	}
	renewed, err := db.RenewCertificate(ctx, "01", t0, func(old storage.Certificate, c storage.Client) (storage.Certificate, error) {
		return storage.Certificate{Serial: "02", ClientID: c.ID, Fingerprint: "fp-02", NotBefore: t0, NotAfter: t0.Add(time.Hour), CreatedAt: t0}, nil
	})
	if err != nil || renewed.RenewedFrom != "01" {
		t.Fatalf("renew: %+v %v", renewed, err)
	}
	problems, err := db.CheckConsistency(ctx)
	if err != nil || len(problems) != 0 {
		t.Fatalf("a sound database: %v %v", problems, err)
	}
}

func TestOpenReadOnlyNeverWrites(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "certbound.db")
	if _, err := sqlite.OpenReadOnly(ctx, path); err == nil {
		t.Fatal("OpenReadOnly created a database")
	}
	rw, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer rw.Close()
	newClient(t, rw, "svc")
	ro, err := sqlite.OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, err := ro.GetClient(ctx, "svc"); err != nil {
		t.Fatalf("read: %v", err)
	}
	if err := ro.DisableClient(ctx, "svc", t0); err == nil {
		t.Fatal("a write through OpenReadOnly succeeded")
	}
	if off, _ := rw.ClientDisabled(ctx, "svc"); off {
		t.Fatal("the client was disabled through a read-only handle")
	}
	problems, err := ro.CheckConsistency(ctx)
	if err != nil || len(problems) != 0 {
		t.Fatalf("consistency through the read-only handle: %v %v", problems, err)
	}
}
