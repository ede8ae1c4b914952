package storagetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/certbound/certbound/storage"
)

// statusReads: the reads every authenticated request makes (GetClient,
// ClientDisabled, CertificateRevoked) answer, once a write of this store
// returned, with what it wrote — whatever a backend caches.
func statusReads(t *testing.T, open Opener) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		write func(*fixture)
		check func(*fixture)
	}{
		{"accept/after ModifyClient the record is the new one", func(f *fixture) {
			if _, err := f.s.ModifyClient(ctx, "a", func(c *storage.Client) error {
				c.Scopes, c.Disabled = []string{"other"}, true
				return nil
			}); err != nil {
				f.t.Fatal(err)
			}
		}, func(f *fixture) {
			c, err := f.s.GetClient(ctx, "a")
			if err != nil || len(c.Scopes) != 1 || c.Scopes[0] != "other" || !c.Disabled {
				f.t.Fatalf("GetClient after ModifyClient: %+v, %v", c, err)
			}
			if !f.disabled("a") {
				f.t.Fatal("ClientDisabled after ModifyClient disabled it: false")
			}
		}},
		{"reject/after DisableClient the client is disabled", func(f *fixture) {
			if err := f.s.DisableClient(ctx, "a", t0); err != nil {
				f.t.Fatal(err)
			}
		}, func(f *fixture) {
			if !f.disabled("a") {
				f.t.Fatal("ClientDisabled after DisableClient: false")
			}
		}},
		{"reject/after DeleteClient the client and its certificate are refused", func(f *fixture) {
			if err := f.s.DeleteClient(ctx, "a", t0); err != nil {
				f.t.Fatal(err)
			}
		}, func(f *fixture) {
			if !f.disabled("a") || !f.revoked("01") {
				f.t.Fatal("the deleted client or its certificate is still accepted")
			}
		}},
		{"reject/after RevokeCertificate the serial is revoked", func(f *fixture) {
			if _, err := f.s.RevokeCertificate(ctx, "01", "key compromise", t0); err != nil {
				f.t.Fatal(err)
			}
		}, func(f *fixture) {
			if !f.revoked("01") {
				f.t.Fatal("CertificateRevoked after RevokeCertificate: false")
			}
		}},
		{"reject/after PruneExpiredCertificates the pruned serial is revoked", func(f *fixture) {
			if _, err := f.s.PruneExpiredCertificates(ctx, t0.Add(48*time.Hour)); err != nil {
				f.t.Fatal(err)
			}
		}, func(f *fixture) {
			if !f.revoked("01") {
				f.t.Fatal("a serial with no record is not revoked")
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, open)
			f.client("a")
			f.enroll("a", "01", t0.Add(24*time.Hour))
			for range 2 { // the second round may be served by a cache
				if f.disabled("a") || f.revoked("01") {
					t.Fatal("disabled or revoked before the write")
				}
			}
			tc.write(f)
			tc.check(f)
		})
	}
	t.Run("concurrency/a writer sees each of its changes while readers hammer the same reads", func(t *testing.T) {
		f := newFixture(t, open)
		f.client("a")
		f.enroll("a", "01", t0.Add(24*time.Hour))
		stop := make(chan struct{})
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for range 3 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					_, err := f.s.ClientDisabled(ctx, "a")
					if err == nil {
						_, err = f.s.CertificateRevoked(ctx, "01")
					}
					if err != nil {
						errs <- err
						return
					}
				}
			})
		}
		for i := range 30 {
			c, err := f.s.ModifyClient(ctx, "a", func(c *storage.Client) error {
				c.Disabled = i%2 == 0
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := f.disabled("a"); got != c.Disabled {
				t.Fatalf("round %d: ClientDisabled = %v right after ModifyClient set %v", i, got, c.Disabled)
			}
		}
		close(stop)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}
