package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/certbound/certbound/storage"
)

// TestBatchJobsAreAtomicOnTheirOwn runs one batch of jobs that succeed,
// fail after writing, panic after writing, redeem a token an earlier job of
// the batch redeemed, and were cancelled before they started: each job's
// writes land or vanish on their own, and each caller gets its own answer.
func TestBatchJobsAreAtomicOnTheirOwn(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	db, err := Open(ctx, filepath.Join(t.TempDir(), "certbound.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.CreateClient(ctx, storage.Client{ID: "svc", AuthMethod: "tls_client_auth", CreatedAt: t0, UpdatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	hash := func(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }
	for _, tok := range []string{"t1", "t2", "t3"} {
		if err := db.InsertEnrollToken(ctx, storage.EnrollToken{Hash: hash(tok), ClientID: "svc", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	certFor := func(serial string) storage.IssueFunc {
		return func(storage.EnrollToken, storage.Client) (storage.Certificate, error) {
			return storage.Certificate{Serial: serial, ClientID: "svc", Fingerprint: "fp-" + serial, NotBefore: t0, NotAfter: t0.Add(time.Hour), CreatedAt: t0}, nil
		}
	}
	// writeThen records certificate serial, then fails or panics.
	writeThen := func(serial string, fail func() error) func(context.Context, *sql.Tx) error {
		return func(ctx context.Context, tx *sql.Tx) error {
			c, _ := certFor(serial)(storage.EnrollToken{}, storage.Client{})
			if err := db.insertCertificate(ctx, tx, c); err != nil {
				return err
			}
			return fail()
		}
	}
	errRefused := errors.New("refused")
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	var c1, c2, dup, c3 storage.Certificate
	jobs := []*writeJob{
		{ctx: ctx, fn: db.redeemJob(hash("t1"), t0, certFor("01"), &c1)},
		{ctx: ctx, fn: writeThen("e1", func() error { return errRefused })},
		{ctx: ctx, fn: writeThen("p1", func() error { panic("boom") })},
		{ctx: ctx, fn: db.redeemJob(hash("t1"), t0, certFor("d1"), &dup)},
		{ctx: cancelled, fn: db.redeemJob(hash("t3"), t0, certFor("03"), &c3)},
		{ctx: ctx, fn: db.redeemJob(hash("t2"), t0, certFor("02"), &c2)},
	}
	for _, j := range jobs {
		j.done = make(chan jobResult, 1)
	}
	db.runBatch(jobs)
	var got []jobResult
	for _, j := range jobs {
		got = append(got, <-j.done)
	}
	if got[0].err != nil || got[5].err != nil || c1.Serial != "01" || c2.Serial != "02" {
		t.Errorf("accept/redemptions: %v %v (%+v %+v)", got[0].err, got[5].err, c1, c2)
	}
	if !errors.Is(got[1].err, errRefused) {
		t.Errorf("reject/failed-after-writing: %v, want its own error", got[1].err)
	}
	if !got[2].panicked || got[2].panicVal != "boom" {
		t.Errorf("reject/panicked-after-writing: %+v, want the panic handed back", got[2])
	}
	if !errors.Is(got[3].err, storage.ErrNotFound) {
		t.Errorf("reject/token-redeemed-earlier-in-the-batch: %v, want ErrNotFound", got[3].err)
	}
	if !errors.Is(got[4].err, context.Canceled) {
		t.Errorf("reject/cancelled-before-start: %v, want context.Canceled", got[4].err)
	}
	for serial, want := range map[string]bool{"01": true, "02": true, "e1": false, "p1": false, "d1": false, "03": false} {
		_, err := db.GetCertificate(ctx, serial)
		if exists := err == nil; exists != want {
			t.Errorf("certificate %s recorded: %v, want %v (%v)", serial, exists, want, err)
		}
	}
	for tok, want := range map[string]bool{"t1": true, "t2": true, "t3": false} {
		if used, _, err := db.EnrollTokenUse(ctx, hash(tok)); err != nil || used != want {
			t.Errorf("token %s used: %v %v, want %v", tok, used, err, want)
		}
	}
}

// TestBatchLoneJobRollsBackOnFailure: a batch of one runs without a
// savepoint; its failure (or panic) still leaves nothing behind.
func TestBatchLoneJobRollsBackOnFailure(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	db, err := Open(ctx, filepath.Join(t.TempDir(), "certbound.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for name, fail := range map[string]func() error{
		"error": func() error { return errors.New("refused") },
		"panic": func() error { panic("boom") },
	} {
		j := &writeJob{ctx: ctx, done: make(chan jobResult, 1), fn: func(ctx context.Context, tx *sql.Tx) error {
			if err := db.insertCertificate(ctx, tx, storage.Certificate{Serial: name, ClientID: "svc", Fingerprint: name, NotBefore: t0, NotAfter: t0, CreatedAt: t0}); err != nil {
				return err
			}
			return fail()
		}}
		db.runBatch([]*writeJob{j})
		if r := <-j.done; r.err == nil && !r.panicked {
			t.Errorf("reject/%s: the job's failure was lost", name)
		}
		if _, err := db.GetCertificate(ctx, name); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("reject/%s: the failed job's write was kept: %v", name, err)
		}
	}
}
