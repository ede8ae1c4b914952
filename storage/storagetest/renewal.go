package storagetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/certbound/certbound/storage"
)

func renewal(t *testing.T, open Opener) {
	f := newFixture(t, open)
	f.client("svc")
	hour := t0.Add(time.Hour)
	at := t0.Add(time.Minute) // the renewals' now

	t.Run("accept/a renewal records the successor and supersedes the old certificate", func(t *testing.T) {
		f := f.on(t)
		old := f.enroll("svc", "a1", hour)
		calls := 0
		next, err := f.s.RenewCertificate(f.ctx, "a1", at, func(o storage.Certificate, c storage.Client) (storage.Certificate, error) {
			calls++
			if o.Serial != "a1" || o.Fingerprint != old.Fingerprint || !o.NotAfter.Equal(hour) || o.SupersededBy != "" || o.Revoked() {
				t.Errorf("renew got the old record %+v", o)
			}
			if c.ID != "svc" || c.SANURI != "spiffe://certbound.test/svc" {
				t.Errorf("renew got the client %+v", c)
			}
			return record("a2", c.ID, hour.Add(time.Hour)), nil
		})
		if err != nil || calls != 1 || next.Serial != "a2" || next.RenewedFrom != "a1" {
			t.Fatalf("RenewCertificate = %+v, %v after %d calls", next, err, calls)
		}
		if c := f.cert("a2"); c.RenewedFrom != "a1" || c.SupersededBy != "" || !c.NotAfter.Equal(hour.Add(time.Hour)) {
			t.Fatalf("the successor: %+v", c)
		}
		if c := f.cert("a1"); c.SupersededBy != "a2" || c.Revoked() {
			t.Fatalf("the old certificate: %+v", c)
		}
		// Presenting the old certificate for the renewal is its use; the new one is unused.
		if used, err := f.s.CertificateFirstUsed(f.ctx, "a1"); err != nil || !used.Equal(at) {
			t.Fatalf("first use of the renewed certificate: %v, %v; want %v", used, err, at)
		}
		if used, err := f.s.CertificateFirstUsed(f.ctx, "a2"); err != nil || !used.IsZero() {
			t.Fatalf("first use of the successor: %v, %v; want none", used, err)
		}
	})
	t.Run("accept/a renewal keeps an earlier first use", func(t *testing.T) {
		f := f.on(t)
		f.enroll("svc", "b1", hour)
		if err := f.s.MarkCertificateUsed(f.ctx, "b1", t0); err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.RenewCertificate(f.ctx, "b1", at, renewAs("b2", hour)); err != nil {
			t.Fatal(err)
		}
		if used, err := f.s.CertificateFirstUsed(f.ctx, "b1"); err != nil || !used.Equal(t0) {
			t.Fatalf("first use after the renewal: %v, %v; want %v", used, err, t0)
		}
	})
	t.Run("reject/a second renewal of one certificate is ErrConflict and records nothing", func(t *testing.T) {
		f := f.on(t)
		f.enroll("svc", "c1", hour)
		f.renew("c1", "c2", hour)
		_, err := f.s.RenewCertificate(f.ctx, "c1", at.Add(time.Minute), renewAs("c3", hour))
		if !errors.Is(err, storage.ErrConflict) {
			t.Fatalf("second renewal = %v, want ErrConflict", err)
		}
		if _, err := f.s.GetCertificate(f.ctx, "c3"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("the refused renewal left a record: %v", err)
		}
		if c := f.cert("c1"); c.SupersededBy != "c2" {
			t.Fatalf("the refused renewal changed the old record: %+v", c)
		}
		if used, _ := f.s.CertificateFirstUsed(f.ctx, "c1"); !used.Equal(t0) {
			t.Fatalf("the refused renewal changed the first use: %v", used)
		}
	})
	t.Run("reject/a renew error records nothing and leaves the certificate renewable", func(t *testing.T) {
		f := f.on(t)
		f.enroll("svc", "d1", hour)
		boom := errors.New("bad csr")
		_, err := f.s.RenewCertificate(f.ctx, "d1", at, func(storage.Certificate, storage.Client) (storage.Certificate, error) {
			return storage.Certificate{}, boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("RenewCertificate = %v, want renew's error", err)
		}
		if c := f.cert("d1"); c.SupersededBy != "" {
			t.Fatalf("a failed renewal superseded the certificate: %+v", c)
		}
		if used, _ := f.s.CertificateFirstUsed(f.ctx, "d1"); !used.IsZero() {
			t.Fatalf("a failed renewal recorded a use: %v", used)
		}
		f.renew("d1", "d2", hour)
	})
	t.Run("reject/a duplicate serial is ErrConflict and leaves the certificate renewable", func(t *testing.T) {
		f := f.on(t)
		f.enroll("svc", "e1", hour)
		f.enroll("svc", "e9", hour)
		if _, err := f.s.RenewCertificate(f.ctx, "e1", at, renewAs("e9", hour)); !errors.Is(err, storage.ErrConflict) {
			t.Fatalf("RenewCertificate(existing serial) = %v, want ErrConflict", err)
		}
		if c := f.cert("e1"); c.SupersededBy != "" {
			t.Fatalf("the conflicting renewal superseded the certificate: %+v", c)
		}
		f.renew("e1", "e2", hour)
	})
	t.Run("reject/an unknown serial or a deleted client is ErrNotFound", func(t *testing.T) {
		f := f.on(t)
		f.client("leaving")
		f.enroll("leaving", "g1", hour)
		if err := f.s.DeleteClient(f.ctx, "leaving", t0); err != nil {
			t.Fatal(err)
		}
		for _, serial := range []string{"unknown", "g1"} {
			_, err := f.s.RenewCertificate(f.ctx, serial, at, func(storage.Certificate, storage.Client) (storage.Certificate, error) {
				t.Errorf("renew called for %s", serial)
				return record("g2", "leaving", hour), nil
			})
			if !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("RenewCertificate(%s) = %v, want ErrNotFound", serial, err)
			}
		}
	})
	t.Run("concurrency/of many renewals of one certificate exactly one records a successor", func(t *testing.T) {
		f := f.on(t)
		f.client("race")
		f.enroll("race", "r00", hour)
		const n = 24
		errs := make([]error, n)
		race(n, func(i int) {
			_, errs[i] = f.s.RenewCertificate(f.ctx, "r00", at, renewAs(fmt.Sprintf("r%02d", i+1), hour))
		})
		winner := ""
		for i, err := range errs {
			switch {
			case err == nil && winner == "":
				winner = fmt.Sprintf("r%02d", i+1)
			case err == nil:
				t.Errorf("renewals into %s and r%02d both succeeded", winner, i+1)
			case !errors.Is(err, storage.ErrConflict):
				t.Errorf("a losing renewal: %v, want ErrConflict", err)
			}
		}
		if got := f.serials(storage.CertificateFilter{ClientID: "race"}); winner == "" || !slices.Equal(got, []string{"r00", winner}) {
			t.Fatalf("recorded %v; want r00 and the one winner %q", got, winner)
		}
		if c := f.cert("r00"); c.SupersededBy != winner {
			t.Fatalf("r00 superseded by %q, want %q", c.SupersededBy, winner)
		}
	})
}
