package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/certbound/certbound/storage"
	"github.com/certbound/certbound/storage/sqlite"
	"github.com/certbound/certbound/storage/sqlite/sqlitetest"
)

// TestBackupUnderEnrollmentLoad measures enrollments (the database's share:
// RedeemEnrollToken from 16 goroutines, each waiting up to the server's
// 30 s write timeout) while BackupTo snapshots a database holding
// CERTBOUND_BACKUP_ROWS certificate rows: how many fail, and their latency
// before and during the backup. Opt-in (it builds a large database): set
// CERTBOUND_BACKUP_ROWS, e.g. 1000000, and run with -v for the figures
// (docs/performance.md).
func TestBackupUnderEnrollmentLoad(t *testing.T) {
	rows, _ := strconv.Atoi(os.Getenv("CERTBOUND_BACKUP_ROWS"))
	if rows <= 0 {
		t.Skip("set CERTBOUND_BACKUP_ROWS to measure")
	}
	ctx := context.Background()
	db := sqlitetest.Open(t)
	begin := time.Now()
	for lo := 0; lo < rows; lo += 50_000 {
		cs := make([]storage.Certificate, 0, 50_000)
		for range min(50_000, rows-lo) {
			cs = append(cs, randomCert(false))
		}
		if err := db.ImportCertificates(ctx, cs); err != nil {
			t.Fatal(err)
		}
	}
	const tokens = 400_000
	tokensFor(t, db, tokens)
	t.Logf("built %d certificate rows and %d tokens in %v", rows, tokens, time.Since(begin).Round(time.Second))

	var next atomic.Int64
	phase := func(name string, during func()) {
		var (
			mu    sync.Mutex
			lat   []time.Duration
			fails int
			stop  atomic.Bool
			wg    sync.WaitGroup
		)
		for range 16 {
			wg.Go(func() {
				for !stop.Load() {
					i := next.Add(1) - 1
					if i >= tokens {
						t.Error("out of tokens")
						return
					}
					c, cancel := context.WithTimeout(ctx, 30*time.Second)
					began := time.Now()
					_, err := db.RedeemEnrollToken(c, hash(fmt.Sprint(i)), t0, func(storage.EnrollToken, storage.Client) (storage.Certificate, error) {
						return randomCert(true), nil
					})
					d := time.Since(began)
					cancel()
					mu.Lock()
					lat = append(lat, d)
					if err != nil {
						fails++
					}
					mu.Unlock()
				}
			})
		}
		start := time.Now()
		during()
		stop.Store(true)
		wg.Wait()
		slices.Sort(lat)
		q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
		t.Logf("%s: %v, %d enrollments (%.0f/s), %d failed, p50 %v, p99 %v, max %v", name, time.Since(start).Round(time.Millisecond),
			len(lat), float64(len(lat))/time.Since(start).Seconds(), fails, q(0.50), q(0.99), lat[len(lat)-1])
	}
	phase("no backup", func() { time.Sleep(5 * time.Second) })
	phase("during a backup", func() {
		b0 := time.Now()
		if err := sqlite.BackupTo(ctx, db.Path(), filepath.Join(t.TempDir(), "copy.db")); err != nil {
			t.Errorf("backup: %v", err)
		}
		t.Logf("the backup took %v", time.Since(b0).Round(time.Millisecond))
	})
}
