package storagetest

import (
	"errors"
	"testing"
	"time"

	"github.com/certbound/certbound/storage"
)

func cloneLineage(t *testing.T, open Opener) {
	f := newFixture(t, open)
	f.client("svc")
	hour := t0.Add(time.Hour)
	suspect := func(f *fixture, serial string) bool {
		f.t.Helper()
		s, err := f.s.CertificateSuspect(f.ctx, serial)
		if err != nil {
			f.t.Fatalf("CertificateSuspect(%s): %v", serial, err)
		}
		return s
	}
	// k1 → k2 → k3: k1 presented again after its renewal marks k2 and k3.
	f.enroll("svc", "k1", hour)
	f.renew("k1", "k2", hour)
	f.renew("k2", "k3", hour)

	t.Run("accept/a mark covers the successor and every later renewal, and is seen at once", func(t *testing.T) {
		f := f.on(t)
		for _, serial := range []string{"k1", "k2", "k3"} {
			if suspect(f, serial) { // a cache may hold these answers now
				t.Fatalf("%s suspect before any mark", serial)
			}
		}
		n, err := f.s.MarkLineageSuspect(f.ctx, "k2", "k1")
		if err != nil || n != 2 {
			t.Fatalf("MarkLineageSuspect = %d, %v; want 2 (k2, k3)", n, err)
		}
		for serial, want := range map[string]bool{"k1": false, "k2": true, "k3": true, "unknown": false} {
			if got := suspect(f, serial); got != want {
				t.Errorf("CertificateSuspect(%s) = %v, want %v", serial, got, want)
			}
		}
		got, ok, err := f.s.SuspectByFingerprint(f.ctx, fingerprint("k3"))
		if err != nil || !ok || got != (storage.SuspectCertificate{Serial: "k3", ClientID: "svc", SuspectOf: "k1"}) {
			t.Fatalf("SuspectByFingerprint(k3) = %+v, %v, %v", got, ok, err)
		}
		if _, ok, err := f.s.SuspectByFingerprint(f.ctx, fingerprint("k1")); err != nil || ok {
			t.Fatalf("SuspectByFingerprint(unmarked k1) = %v, %v", ok, err)
		}
	})
	t.Run("accept/a second mark keeps the first and an unknown successor marks nothing", func(t *testing.T) {
		f := f.on(t)
		if n, err := f.s.MarkLineageSuspect(f.ctx, "k3", "k2"); err != nil || n != 0 {
			t.Fatalf("marking marked records = %d, %v; want 0", n, err)
		}
		if got, _, _ := f.s.SuspectByFingerprint(f.ctx, fingerprint("k3")); got.SuspectOf != "k1" {
			t.Fatalf("the first mark was replaced: %+v", got)
		}
		if n, err := f.s.MarkLineageSuspect(f.ctx, "unknown", "k1"); err != nil || n != 0 {
			t.Fatalf("MarkLineageSuspect(unknown) = %d, %v", n, err)
		}
	})
	t.Run("reject/a suspect certificate is not renewed: ErrSuspectLineage before renew runs", func(t *testing.T) {
		f := f.on(t)
		_, err := f.s.RenewCertificate(f.ctx, "k3", t0, func(storage.Certificate, storage.Client) (storage.Certificate, error) {
			t.Error("renew called for a suspect certificate")
			return record("k4", "svc", hour), nil
		})
		if !errors.Is(err, storage.ErrSuspectLineage) {
			t.Fatalf("RenewCertificate(suspect) = %v, want ErrSuspectLineage", err)
		}
		if c := f.cert("k3"); c.SupersededBy != "" {
			t.Fatalf("the refused renewal superseded k3: %+v", c)
		}
		if used, _ := f.s.CertificateFirstUsed(f.ctx, "k3"); !used.IsZero() {
			t.Fatalf("the refused renewal recorded a use: %v", used)
		}
	})
	t.Run("accept/DisableClientAudited disables, clears the marks and leaves one audit row", func(t *testing.T) {
		f := f.on(t)
		_ = f.disabled("svc") // a cache may hold the answer now
		if err := f.s.DisableClientAudited(f.ctx, "svc", "k1", "clone", t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if !f.disabled("svc") {
			t.Fatal("the client is not disabled")
		}
		if suspect(f, "k2") || suspect(f, "k3") {
			t.Fatal("the marks were not cleared")
		}
		if _, ok, _ := f.s.SuspectByFingerprint(f.ctx, fingerprint("k3")); ok {
			t.Fatal("a cleared mark is still found by fingerprint")
		}
		// Disabled already: nothing changes, no second row.
		if err := f.s.DisableClientAudited(f.ctx, "svc", "k1", "clone", t0.Add(2*time.Minute)); err != nil {
			t.Fatal(err)
		}
		events, err := f.s.ListAuditEvents(f.ctx, storage.AuditFilter{Type: "client.disabled"})
		if err != nil || len(events) != 1 {
			t.Fatalf("client.disabled rows: %+v, %v; want 1", events, err)
		}
		if e := events[0]; e.ClientID != "svc" || e.Serial != "k1" || e.Reason != "clone" || !e.At.Equal(t0.Add(time.Minute)) {
			t.Fatalf("the audit row: %+v", e)
		}
	})
}
