package sqlite_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/certbound/certbound/storage"
	"github.com/certbound/certbound/storage/sqlite/sqlitetest"
)

// TestCertificateStatesOneVocabulary: the SQL filter, the record's State and
// the metrics' count agree, with the precedence revoked > expired >
// superseded > active, so that "active" never counts a superseded
// certificate.
func TestCertificateStatesOneVocabulary(t *testing.T) {
	ctx := context.Background()
	db := sqlitetest.Open(t)
	newClient(t, db, "svc")
	now := t0
	issue := func(serial string, notAfter time.Duration) {
		t.Helper()
		tok := hash("token-" + serial)
		if err := db.InsertEnrollToken(ctx, storage.EnrollToken{Hash: tok, ClientID: "svc", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		_, err := db.RedeemEnrollToken(ctx, tok, now, func(storage.EnrollToken, storage.Client) (storage.Certificate, error) {
			return storage.Certificate{Serial: serial, ClientID: "svc", Fingerprint: serial, NotBefore: now.Add(-48 * time.Hour),
				NotAfter: now.Add(notAfter), CreatedAt: now}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	renew := func(old, serial string, notAfter time.Duration) {
		t.Helper()
		_, err := db.RenewCertificate(ctx, old, now.Add(-time.Hour), func(storage.Certificate, storage.Client) (storage.Certificate, error) {
			return storage.Certificate{Serial: serial, ClientID: "svc", Fingerprint: serial, NotBefore: now.Add(-48 * time.Hour),
				NotAfter: now.Add(notAfter), CreatedAt: now}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	revoke := func(serial string) {
		t.Helper()
		if _, _, err := db.RevokeCertificateOnce(ctx, serial, "test", now); err != nil {
			t.Fatal(err)
		}
	}
	issue("a1", time.Hour)          // active
	issue("b1", time.Hour)          // superseded by b2 ...
	renew("b1", "b2", 2*time.Hour)  // ... which is active
	issue("c1", -time.Hour)         // expired
	issue("d1", -2*time.Hour)       // expired though superseded by d2
	renew("d1", "d2", -time.Hour)   // expired too
	issue("e1", time.Hour)          // revoked
	revoke("e1")                    //
	issue("f1", -time.Hour)         // revoked beats expired
	revoke("f1")                    //
	issue("g1", time.Hour)          // revoked beats superseded
	renew("g1", "g2", 30*time.Hour) // g2 active, beyond the 24 h window
	revoke("g1")                    //

	want := map[storage.CertificateState][]string{
		storage.StateActive:     {"a1", "b2", "g2"},
		storage.StateSuperseded: {"b1"},
		storage.StateExpired:    {"c1", "d1", "d2"},
		storage.StateRevoked:    {"e1", "f1", "g1"},
	}
	all, err := db.ListCertificates(ctx, storage.CertificateFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for state, serials := range want {
		t.Run("accept/"+string(state), func(t *testing.T) {
			list, err := db.ListCertificates(ctx, storage.CertificateFilter{State: state, At: now})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range list {
				got = append(got, c.Serial)
			}
			if !slices.Equal(got, serials) {
				t.Fatalf("filter %s = %v, want %v", state, got, serials)
			}
			var byRecord []string
			for _, c := range all {
				if c.State(now) == state {
					byRecord = append(byRecord, c.Serial)
				}
			}
			if !slices.Equal(byRecord, serials) {
				t.Fatalf("Certificate.State %s = %v, want %v", state, byRecord, serials)
			}
		})
	}
	c, err := db.CountCertificates(ctx, now, 24*time.Hour)
	if err != nil || c.Active != 3 || c.ExpiringSoon != 2 {
		t.Fatalf("counts %+v %v, want 3 active (no superseded one), 2 of them expiring within 24h", c, err)
	}
	if _, ok := storage.ParseCertificateState("valid"); ok {
		t.Fatal(`"valid" parsed as a state`)
	}
}
