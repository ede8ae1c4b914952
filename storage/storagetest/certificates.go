package storagetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/certbound/certbound/storage"
)

func certificates(t *testing.T, open Opener) {
	f := newFixture(t, open)
	f.client("svc")
	f.client("other")
	hour := t0.Add(time.Hour)

	t.Run("reject/an unknown serial is ErrNotFound", func(t *testing.T) {
		if _, err := f.s.GetCertificate(f.ctx, "nope"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("GetCertificate(unknown) = %v", err)
		}
		if _, err := f.s.CertificateFirstUsed(f.ctx, "nope"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("CertificateFirstUsed(unknown) = %v", err)
		}
		if err := f.s.MarkCertificateUsed(f.ctx, "nope", t0); err != nil {
			t.Fatalf("MarkCertificateUsed(unknown) = %v, want nil (nothing to mark)", err)
		}
	})
	t.Run("accept/the first use is recorded once and kept", func(t *testing.T) {
		f := f.on(t)
		f.enroll("svc", "u01", hour)
		if used, err := f.s.CertificateFirstUsed(f.ctx, "u01"); err != nil || !used.IsZero() {
			t.Fatalf("a fresh certificate was used at %v, %v", used, err)
		}
		for _, at := range []time.Time{t0.Add(time.Minute), t0.Add(2 * time.Minute)} {
			if err := f.s.MarkCertificateUsed(f.ctx, "u01", at); err != nil {
				t.Fatal(err)
			}
		}
		if used, err := f.s.CertificateFirstUsed(f.ctx, "u01"); err != nil || !used.Equal(t0.Add(time.Minute)) {
			t.Fatalf("first used %v, %v; want %v", used, err, t0.Add(time.Minute))
		}
	})
	t.Run("accept/ListCertificates filters by client and expiry and pages by serial", func(t *testing.T) {
		f := newFixture(t, open)
		f.client("svc")
		f.client("other")
		for _, c := range []struct {
			serial, client string
			notAfter       time.Time
		}{{"l03", "svc", hour}, {"l01", "svc", t0.Add(3 * time.Hour)}, {"l05", "other", hour}, {"l02", "svc", t0.Add(time.Minute)}, {"l04", "svc", hour}} {
			f.enroll(c.client, c.serial, c.notAfter)
		}
		for _, tc := range []struct {
			name   string
			filter storage.CertificateFilter
			want   []string
		}{
			{"everything, by serial", storage.CertificateFilter{}, []string{"l01", "l02", "l03", "l04", "l05"}},
			{"one client", storage.CertificateFilter{ClientID: "svc"}, []string{"l01", "l02", "l03", "l04"}},
			{"expiring before", storage.CertificateFilter{NotAfterBefore: hour}, []string{"l02"}},
			{"expiring before, one client", storage.CertificateFilter{ClientID: "other", NotAfterBefore: hour.Add(time.Second)}, []string{"l05"}},
			{"a page", storage.CertificateFilter{After: "l02", Limit: 2}, []string{"l03", "l04"}},
			{"the last page", storage.CertificateFilter{After: "l04", Limit: 2}, []string{"l05"}},
			{"past the end", storage.CertificateFilter{After: "l05"}, []string{}},
			{"an unknown client", storage.CertificateFilter{ClientID: "nobody"}, []string{}},
		} {
			if got := f.on(t).serials(tc.filter); !slices.Equal(got, tc.want) {
				t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
			}
		}
	})
	t.Run("accept/PruneExpiredCertificates deletes the records expired before the cutoff, revoked ones too", func(t *testing.T) {
		f := newFixture(t, open)
		f.client("svc")
		f.enroll("svc", "p01", t0.Add(-2*time.Hour))
		f.enroll("svc", "p02", t0.Add(-2*time.Hour))
		if _, err := f.s.RevokeCertificate(f.ctx, "p02", "test", t0); err != nil {
			t.Fatal(err)
		}
		f.enroll("svc", "p03", t0.Add(-time.Hour))
		f.enroll("svc", "p04", hour)
		_ = f.revoked("p01") // a cache may hold the answer now
		n, err := f.s.PruneExpiredCertificates(f.ctx, t0.Add(-time.Hour))
		if err != nil || n != 2 {
			t.Fatalf("PruneExpiredCertificates = %d, %v; want 2", n, err)
		}
		if got := f.serials(storage.CertificateFilter{}); !slices.Equal(got, []string{"p03", "p04"}) {
			t.Fatalf("left %v", got)
		}
		if !f.revoked("p01") {
			t.Fatal("a pruned serial is not revoked: it has no record, and no record means revoked")
		}
	})
	t.Run("accept/CountCertificates counts active ones and those expiring within the window", func(t *testing.T) {
		f := newFixture(t, open)
		f.client("svc")
		f.enroll("svc", "n01", hour)                 // active, expiring soon
		f.enroll("svc", "n02", t0.Add(48*time.Hour)) // active
		f.enroll("svc", "n03", t0.Add(-time.Hour))   // expired
		f.enroll("svc", "n04", t0.Add(48*time.Hour)) // revoked
		f.renew("n02", "n05", t0.Add(24*time.Hour))  // n02 superseded; n05 active, expiring at the window's end
		if _, err := f.s.RevokeCertificate(f.ctx, "n04", "test", t0); err != nil {
			t.Fatal(err)
		}
		c, err := f.s.CountCertificates(f.ctx, t0, 24*time.Hour)
		if err != nil || c.Active != 2 || c.ExpiringSoon != 2 {
			t.Fatalf("CountCertificates = %+v, %v; want 2 active (n01, n05), both expiring within 24h", c, err)
		}
	})
}

func certificateStates(t *testing.T, open Opener) {
	f := newFixture(t, open)
	f.client("svc")
	now := t0
	revoke := func(serial string) {
		t.Helper()
		if _, _, err := f.s.RevokeCertificateOnce(f.ctx, serial, "test", now); err != nil {
			t.Fatal(err)
		}
	}
	f.enroll("svc", "a1", now.Add(time.Hour))    // active
	f.enroll("svc", "b1", now.Add(time.Hour))    // superseded by b2 ...
	f.renew("b1", "b2", now.Add(2*time.Hour))    // ... which is active
	f.enroll("svc", "c1", now.Add(-time.Hour))   // expired
	f.enroll("svc", "d1", now.Add(-2*time.Hour)) // expired though superseded by d2
	f.renew("d1", "d2", now.Add(-time.Hour))     // expired too
	f.enroll("svc", "e1", now.Add(time.Hour))    // revoked
	revoke("e1")                                 //
	f.enroll("svc", "f1", now.Add(-time.Hour))   // revoked beats expired
	revoke("f1")                                 //
	f.enroll("svc", "g1", now.Add(time.Hour))    // revoked beats superseded
	f.renew("g1", "g2", now.Add(30*time.Hour))   // g2 active, beyond a 24 h window
	revoke("g1")                                 //
	f.enroll("svc", "h1", now)                   // expired at the instant of NotAfter

	want := map[storage.CertificateState][]string{
		storage.StateActive:     {"a1", "b2", "g2"},
		storage.StateSuperseded: {"b1"},
		storage.StateExpired:    {"c1", "d1", "d2", "h1"},
		storage.StateRevoked:    {"e1", "f1", "g1"},
	}
	all, err := f.s.ListCertificates(f.ctx, storage.CertificateFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for state, serials := range want {
		t.Run("accept/the filter and the record agree on "+string(state), func(t *testing.T) {
			if got := f.on(t).serials(storage.CertificateFilter{State: state, At: now}); !slices.Equal(got, serials) {
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
	t.Run("accept/the count of active certificates leaves superseded ones out", func(t *testing.T) {
		c, err := f.s.CountCertificates(f.ctx, now, 24*time.Hour)
		if err != nil || c.Active != 3 || c.ExpiringSoon != 2 {
			t.Fatalf("counts %+v %v, want 3 active (no superseded one), 2 of them expiring within 24h", c, err)
		}
	})
	t.Run("reject/an unknown state matches nothing and does not parse", func(t *testing.T) {
		if got := f.on(t).serials(storage.CertificateFilter{State: "valid", At: now}); len(got) != 0 {
			t.Fatalf("state \"valid\" matched %v", got)
		}
		if _, ok := storage.ParseCertificateState("valid"); ok {
			t.Fatal(`"valid" parsed as a state`)
		}
		for st := range want {
			if got, ok := storage.ParseCertificateState(string(st)); !ok || got != st {
				t.Fatalf("ParseCertificateState(%s) = %v, %v", st, got, ok)
			}
		}
	})
}
