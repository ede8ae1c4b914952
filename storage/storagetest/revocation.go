package storagetest

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/certbound/certbound/storage"
)

func revocation(t *testing.T, open Opener) {
	f := newFixture(t, open)
	f.client("svc")
	hour := t0.Add(time.Hour)

	t.Run("accept/the first revocation stays and a second one reports so", func(t *testing.T) {
		f := f.on(t)
		f.enroll("svc", "v1", hour)
		c, did, err := f.s.RevokeCertificateOnce(f.ctx, "v1", "key compromise", t0)
		if err != nil || !did || !c.Revoked() || c.RevocationReason != "key compromise" || !c.RevokedAt.Equal(t0) {
			t.Fatalf("first RevokeCertificateOnce = %+v, %v, %v", c, did, err)
		}
		c, did, err = f.s.RevokeCertificateOnce(f.ctx, "v1", "superseded", hour)
		if err != nil || did || c.RevocationReason != "key compromise" || !c.RevokedAt.Equal(t0) {
			t.Fatalf("second RevokeCertificateOnce = %+v, %v, %v; want the first revocation, false", c, did, err)
		}
		c, err = f.s.RevokeCertificate(f.ctx, "v1", "again", hour)
		if err != nil || c.RevocationReason != "key compromise" || !c.RevokedAt.Equal(t0) {
			t.Fatalf("RevokeCertificate of a revoked certificate = %+v, %v", c, err)
		}
		if stored := f.cert("v1"); stored.RevocationReason != "key compromise" || !stored.RevokedAt.Equal(t0) {
			t.Fatalf("stored %+v", stored)
		}
	})
	t.Run("reject/revoking an unknown serial is ErrNotFound", func(t *testing.T) {
		if _, err := f.s.RevokeCertificate(f.ctx, "unknown", "test", t0); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("RevokeCertificate(unknown) = %v", err)
		}
		if _, _, err := f.s.RevokeCertificateOnce(f.ctx, "unknown", "test", t0); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("RevokeCertificateOnce(unknown) = %v", err)
		}
	})
	t.Run("accept/FingerprintRevoked answers for revoked certificates only", func(t *testing.T) {
		f := f.on(t)
		f.enroll("svc", "w1", hour)
		f.enroll("svc", "w2", hour)
		fingerprintRevoked := func(fp string) bool {
			t.Helper()
			r, err := f.s.FingerprintRevoked(f.ctx, fp)
			if err != nil {
				t.Fatalf("FingerprintRevoked: %v", err)
			}
			return r
		}
		if fingerprintRevoked(fingerprint("w1")) || fingerprintRevoked(fingerprint("never issued")) {
			t.Fatal("an unrevoked or unknown fingerprint reported revoked")
		}
		if _, err := f.s.RevokeCertificate(f.ctx, "w1", "test", t0); err != nil {
			t.Fatal(err)
		}
		if !fingerprintRevoked(fingerprint("w1")) || fingerprintRevoked(fingerprint("w2")) {
			t.Fatal("after revoking w1: its fingerprint not revoked, or w2's is")
		}
	})
	t.Run("concurrency/a revocation that returned is seen by every status read that starts after it", func(t *testing.T) {
		f := f.on(t)
		f.client("rv")
		const n = 12
		for i := range n {
			f.enroll("rv", fmt.Sprintf("rv%02d", i), hour) // recorded by this store: a cache may hold "not revoked"
		}
		for i := range n {
			f.token(fmt.Sprint("during ", i), "rv", hour)
		}
		var done atomic.Int32 // rv00 … rv(done-1) are revoked, and their revocations returned
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var stale atomic.Int32
		errs := make(chan error, 16)
		// check reads serial i's status, and counts a stale answer if its
		// revocation had returned before the read began.
		check := func(i int) bool {
			serial := fmt.Sprintf("rv%02d", i)
			settled := int(done.Load()) > i
			rev, err := f.s.CertificateRevoked(f.ctx, serial)
			fpRev, fpErr := f.s.FingerprintRevoked(f.ctx, fingerprint(serial))
			if err := errors.Join(err, fpErr); err != nil {
				errs <- err
				return false
			}
			if settled && (!rev || !fpRev) {
				stale.Add(1)
			}
			return true
		}
		for r := range 3 {
			wg.Go(func() {
				for k := r; ; k++ {
					select {
					case <-stop:
						for i := range n { // one last pass, every revocation settled
							check(i)
						}
						return
					default:
					}
					if !check(k % n) {
						return
					}
				}
			})
		}
		// Issuance goes on meanwhile: new records, and the writes they make.
		wg.Go(func() {
			for i := range n {
				if _, err := f.s.RedeemEnrollToken(f.ctx, hash(fmt.Sprint("during ", i)), t0, issueAs(fmt.Sprintf("rn%02d", i), hour)); err != nil {
					errs <- err
					return
				}
			}
		})
		for i := range n {
			serial := fmt.Sprintf("rv%02d", i)
			if _, err := f.s.RevokeCertificate(f.ctx, serial, "key compromise", t0); err != nil {
				t.Fatal(err)
			}
			done.Store(int32(i + 1))
			if !f.revoked(serial) {
				t.Errorf("%s: the revoking goroutine's next read says not revoked", serial)
			}
		}
		close(stop)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if stale.Load() > 0 {
			t.Fatalf("%d status reads that started after a revocation returned said not revoked", stale.Load())
		}
	})
}
