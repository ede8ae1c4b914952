package sqlite_test

import (
	"context"
	"testing"
	"time"

	"github.com/certbound/certbound/storage"
	"github.com/certbound/certbound/storage/sqlite/sqlitetest"
)

func TestAuditTrail(t *testing.T) {
	ctx := context.Background()
	db := sqlitetest.Open(t)
	events := []storage.AuditEvent{
		{At: t0, Type: "client.created", ClientID: "a"},
		{At: t0.Add(time.Minute), Type: "token.issued", ClientID: "a"},
		{At: t0.Add(2 * time.Minute), Type: "token.refused", ClientID: "b", Reason: "bad_secret", Remote: "127.0.0.1"},
	}
	if err := db.AppendAuditEvents(ctx, events); err != nil {
		t.Fatal(err)
	}
	all, _ := db.ListAuditEvents(ctx, storage.AuditFilter{})
	if len(all) != 3 || all[2].Reason != "bad_secret" || !all[1].At.Equal(t0.Add(time.Minute)) {
		t.Fatalf("all = %+v", all)
	}
	for _, tc := range []struct {
		f    storage.AuditFilter
		want int
	}{
		{storage.AuditFilter{ClientID: "a"}, 2},
		{storage.AuditFilter{Type: "token."}, 2},
		{storage.AuditFilter{Type: "token.issued"}, 1},
		{storage.AuditFilter{Since: t0.Add(90 * time.Second)}, 1},
		{storage.AuditFilter{AfterID: all[0].ID, Limit: 1}, 1},
	} {
		got, err := db.ListAuditEvents(ctx, tc.f)
		if err != nil || len(got) != tc.want {
			t.Errorf("%+v: %d events, %v; want %d", tc.f, len(got), err, tc.want)
		}
	}
	if n, err := db.PruneAuditEvents(ctx, t0.Add(30*time.Second)); err != nil || n != 1 {
		t.Fatalf("prune: %d %v", n, err)
	}
}

func TestCountCertificates(t *testing.T) {
	ctx := context.Background()
	db := sqlitetest.Open(t)
	newClient(t, db, "svc")
	for i, na := range []time.Duration{time.Hour, 48 * time.Hour, -time.Hour} {
		tok := hash(string(rune('a' + i)))
		db.InsertEnrollToken(ctx, storage.EnrollToken{Hash: tok, ClientID: "svc", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)})
		serial := string(rune('a' + i))
		_, err := db.RedeemEnrollToken(ctx, tok, t0, func(storage.EnrollToken, storage.Client) (storage.Certificate, error) {
			return storage.Certificate{Serial: serial, ClientID: "svc", Fingerprint: serial, NotBefore: t0.Add(-2 * time.Hour), NotAfter: t0.Add(na), CreatedAt: t0}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	c, err := db.CountCertificates(ctx, t0, 24*time.Hour)
	if err != nil || c.Active != 2 || c.ExpiringSoon != 1 {
		t.Fatalf("counts %+v %v", c, err)
	}
}
