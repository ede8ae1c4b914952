package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/certbound/certbound/storage"
	"github.com/certbound/certbound/storage/sqlite"
	"github.com/certbound/certbound/storage/sqlite/sqlitetest"
)

// TestConcurrentRedemptionsAndRenewals: many callers at once, some of whose
// issue functions refuse, share write batches; every accepted one is
// recorded with its token used or its predecessor superseded, every refused
// one leaves nothing, and the database stays consistent.
func TestConcurrentRedemptionsAndRenewals(t *testing.T) {
	ctx := context.Background()
	db := sqlitetest.Open(t)
	newClient(t, db, "svc")
	const n = 48
	var old []storage.Certificate
	for i := range n {
		if err := db.InsertEnrollToken(ctx, storage.EnrollToken{Hash: hash(fmt.Sprint("t", i)), ClientID: "svc", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		old = append(old, storage.Certificate{Serial: fmt.Sprintf("a%03d", i), ClientID: "svc", Fingerprint: fmt.Sprint("fa", i),
			NotBefore: t0, NotAfter: t0.Add(time.Hour), CreatedAt: t0})
	}
	if err := db.ImportCertificates(ctx, old); err != nil {
		t.Fatal(err)
	}
	errRefused := errors.New("refused")
	refuse := func(i int) bool { return i%5 == 0 }
	errs := make([]error, 2*n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = db.RedeemEnrollToken(ctx, hash(fmt.Sprint("t", i)), t0, func(storage.EnrollToken, storage.Client) (storage.Certificate, error) {
				if refuse(i) {
					return storage.Certificate{}, errRefused
				}
				return certFor(fmt.Sprintf("e%03d", i))(storage.EnrollToken{}, storage.Client{ID: "svc"})
			})
		})
		wg.Go(func() {
			_, errs[n+i] = db.RenewCertificate(ctx, old[i].Serial, t0, func(storage.Certificate, storage.Client) (storage.Certificate, error) {
				if refuse(i) {
					return storage.Certificate{}, errRefused
				}
				return certFor(fmt.Sprintf("r%03d", i))(storage.EnrollToken{}, storage.Client{ID: "svc"})
			})
		})
	}
	wg.Wait()
	for i := range n {
		tokenUsed, _, err := db.EnrollTokenUse(ctx, hash(fmt.Sprint("t", i)))
		if err != nil {
			t.Fatal(err)
		}
		_, enrolled := db.GetCertificate(ctx, fmt.Sprintf("e%03d", i))
		_, renewed := db.GetCertificate(ctx, fmt.Sprintf("r%03d", i))
		prev, _ := db.GetCertificate(ctx, old[i].Serial)
		if refuse(i) {
			if !errors.Is(errs[i], errRefused) || !errors.Is(errs[n+i], errRefused) || tokenUsed || enrolled == nil ||
				renewed == nil || prev.SupersededBy != "" {
				t.Errorf("reject/%d: errors %v, %v; token used %v; recorded %v, %v; superseded by %q", i, errs[i], errs[n+i],
					tokenUsed, enrolled == nil, renewed == nil, prev.SupersededBy)
			}
			continue
		}
		if errs[i] != nil || errs[n+i] != nil || !tokenUsed || enrolled != nil || renewed != nil || prev.SupersededBy != fmt.Sprintf("r%03d", i) {
			t.Errorf("accept/%d: errors %v, %v; token used %v; not recorded %v, %v; superseded by %q", i, errs[i], errs[n+i],
				tokenUsed, enrolled, renewed, prev.SupersededBy)
		}
	}
	if problems, err := db.CheckConsistency(ctx); err != nil || len(problems) != 0 {
		t.Fatalf("consistency: %v %v", problems, err)
	}
}

// TestRedeemAfterClose fails instead of waiting for a batcher that is gone.
func TestRedeemAfterClose(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "certbound.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := db.RedeemEnrollToken(ctx, hash("T"), t0, certFor("01"))
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("redeemed on a closed database")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("RedeemEnrollToken after Close did not return")
	}
}
