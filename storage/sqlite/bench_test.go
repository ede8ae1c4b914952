package sqlite_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/certbound/certbound/storage"
	"github.com/certbound/certbound/storage/sqlite"
	"github.com/certbound/certbound/storage/sqlite/sqlitetest"
)

// BenchmarkRedeemEnrollToken is the database's share of one enrollment:
// the transaction that consumes the token, reads the client and records the
// certificate (the issue callback does no signing here).
func BenchmarkRedeemEnrollToken(b *testing.B) {
	ctx := context.Background()
	const n = 20000
	db := tokensFor(b, sqlitetest.Open(b), n)
	i := 0
	b.ReportAllocs()
	c0 := cpuTime()
	for b.Loop() {
		if i == n {
			b.Fatal("out of tokens; lower -benchtime")
		}
		if _, err := db.RedeemEnrollToken(ctx, hash(fmt.Sprint(i)), t0, certFor(fmt.Sprintf("%032x", i))); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(cpuTime()-c0)/float64(b.N), "cpu-ns/op")
}

// BenchmarkRedeemEnrollTokenConcurrent is BenchmarkRedeemEnrollToken with 16
// callers at once, as under load: their redemptions share write
// transactions (group commit).
func BenchmarkRedeemEnrollTokenConcurrent(b *testing.B) {
	const n = 20000
	db := tokensFor(b, sqlitetest.Open(b), n)
	var next atomic.Int64
	redeemConcurrently(b, db, &next, n, func(i int64) storage.IssueFunc { return certFor(fmt.Sprintf("%032x", i)) })
}

// tokensFor registers the client "svc" in db and n enrollment tokens for it,
// hash(fmt.Sprint(i)) for i in [0, n).
func tokensFor(b testing.TB, db *sqlite.DB, n int) *sqlite.DB {
	ctx := context.Background()
	c := storage.Client{ID: "svc", AuthMethod: "tls_client_auth", CreatedAt: t0, UpdatedAt: t0}
	if err := db.CreateClient(ctx, c); err != nil {
		b.Fatal(err)
	}
	for i := range n {
		tok := storage.EnrollToken{Hash: hash(fmt.Sprint(i)), ClientID: "svc", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
		if err := db.InsertEnrollToken(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
	return db
}

// redeemConcurrently redeems the tokens of tokensFor from 16 goroutines,
// the next unused one each time (next counts them across runs), and reports
// the process's CPU time per redemption.
func redeemConcurrently(b *testing.B, db *sqlite.DB, next *atomic.Int64, n int64, issue func(i int64) storage.IssueFunc) {
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(16 / max(1, runtime.GOMAXPROCS(0)))
	b.ResetTimer() // not the caller's setup
	c0 := cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1) - 1
			if i >= n {
				b.Error("out of tokens; lower -benchtime")
				return
			}
			if _, err := db.RedeemEnrollToken(ctx, hash(fmt.Sprint(i)), t0, issue(i)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(cpuTime()-c0)/float64(b.N), "cpu-ns/op")
}

// cpuTime is the process's user + system CPU time: on a shared machine it
// says more than the wall clock.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkStatusReads are the reads of every authenticated request, served
// by the status cache.
func BenchmarkStatusReads(b *testing.B) {
	ctx := context.Background()
	db := sqlitetest.Open(b)
	c := storage.Client{ID: "svc", AuthMethod: "tls_client_auth", Scopes: []string{"a", "b"}, Audiences: []string{"x"},
		GrantTypes: []string{"client_credentials"}, CreatedAt: t0, UpdatedAt: t0}
	if err := db.CreateClient(ctx, c); err != nil {
		b.Fatal(err)
	}
	if err := db.ImportCertificates(ctx, []storage.Certificate{{Serial: "01", ClientID: "svc", Fingerprint: "f",
		NotBefore: t0, NotAfter: t0.Add(time.Hour), CreatedAt: t0}}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := db.GetClient(ctx, "svc"); err != nil {
			b.Fatal(err)
		}
		if d, err := db.ClientDisabled(ctx, "svc"); err != nil || d {
			b.Fatal(d, err)
		}
		if r, err := db.CertificateRevoked(ctx, "01"); err != nil || r {
			b.Fatal(r, err)
		}
	}
}

// BenchmarkRenewCertificate is the database's share of one renewal: the
// transaction that reads the old record and its client, records the new
// certificate and supersedes the old one (no signing here).
func BenchmarkRenewCertificate(b *testing.B) {
	ctx := context.Background()
	db := sqlitetest.Open(b)
	c := storage.Client{ID: "svc", AuthMethod: "tls_client_auth", CreatedAt: t0, UpdatedAt: t0}
	if err := db.CreateClient(ctx, c); err != nil {
		b.Fatal(err)
	}
	const n = 20000
	old := make([]storage.Certificate, n)
	for i := range old {
		old[i] = storage.Certificate{Serial: fmt.Sprintf("%032x", i), ClientID: "svc", Fingerprint: fmt.Sprintf("fp-%d", i),
			NotBefore: t0, NotAfter: t0.Add(time.Hour), CreatedAt: t0}
	}
	if err := db.ImportCertificates(ctx, old); err != nil {
		b.Fatal(err)
	}
	i := 0
	b.ReportAllocs()
	c0 := cpuTime()
	for b.Loop() {
		if i == n {
			b.Fatal("out of certificates; lower -benchtime")
		}
		serial := fmt.Sprintf("%032x", n+i)
		_, err := db.RenewCertificate(ctx, old[i].Serial, t0, func(storage.Certificate, storage.Client) (storage.Certificate, error) {
			return storage.Certificate{Serial: serial, ClientID: "svc", Fingerprint: "fp-" + serial, NotBefore: t0, NotAfter: t0.Add(time.Hour), CreatedAt: t0}, nil
		})
		if err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(cpuTime()-c0)/float64(b.N), "cpu-ns/op")
}

// BenchmarkRedeemEnrollTokenAtScale is BenchmarkRedeemEnrollTokenConcurrent
// on a certificates table that already holds rows (CERTBOUND_BENCH_ROWS,
// default 10,000; the benchmark suite's scale database has 1,000,000), with
// random serials and fingerprints as real certificates have: what an
// enrollment's write costs once the indexes no longer fit in a few pages.
func BenchmarkRedeemEnrollTokenAtScale(b *testing.B) {
	rows := 10_000
	if s := os.Getenv("CERTBOUND_BENCH_ROWS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatalf("CERTBOUND_BENCH_ROWS: %v", err)
		}
		rows = n
	}
	ctx := context.Background()
	db := sqlitetest.Open(b)
	for lo := 0; lo < rows; lo += 50_000 {
		cs := make([]storage.Certificate, 0, 50_000)
		for range min(50_000, rows-lo) {
			cs = append(cs, randomCert(false))
		}
		if err := db.ImportCertificates(ctx, cs); err != nil {
			b.Fatal(err)
		}
	}
	const n = 200_000
	tokensFor(b, db, n)
	var next atomic.Int64
	for _, ordered := range []bool{false, true, false, true, false, true} {
		b.Run(map[bool]string{false: "random-serials", true: "ordered-serials"}[ordered], func(b *testing.B) {
			redeemConcurrently(b, db, &next, n, func(int64) storage.IssueFunc {
				return func(storage.EnrollToken, storage.Client) (storage.Certificate, error) {
					return randomCert(ordered), nil
				}
			})
		})
	}
}

// randomCert is a certificate record with a random 128-bit serial (or, if
// ordered, one that starts with the time) and the SHA-256 of it as its
// fingerprint, both in hex, as enroll records them.
func randomCert(ordered bool) storage.Certificate {
	var raw [16]byte
	_, _ = rand.Read(raw[:])
	fp := sha256.Sum256(raw[:])
	if ordered {
		binary.BigEndian.PutUint64(raw[:], uint64(time.Now().UnixNano())>>1)
	}
	return storage.Certificate{Serial: hex.EncodeToString(raw[:]), ClientID: "svc", Fingerprint: hex.EncodeToString(fp[:]),
		NotBefore: t0, NotAfter: t0.Add(24 * time.Hour), CreatedAt: t0}
}
