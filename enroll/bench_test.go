package enroll_test

import (
	"context"
	"crypto/x509"
	"syscall"
	"testing"
	"time"

	"github.com/certbound/certbound/certs/secret"
	"github.com/certbound/certbound/enroll"
)

// The benchmarks below are the domain side of POST /v1/enroll and POST
// /v1/renew, without HTTP: CSR checks, the transaction, signing and the
// response's PEM. They report the process's CPU time per operation
// (cpu-ns/op), which on a shared machine says more than the wall clock.

func BenchmarkEnroll(b *testing.B) {
	ctx := context.Background()
	f := newFixture(b, "")
	csr := csrFor(b)
	toks := make([]secret.Secret, 0, 4096)
	mint := func() {
		toks = toks[:0]
		for range cap(toks) {
			tok, err := f.svc.MintToken(ctx, enroll.TokenRequest{ClientID: "svc"})
			if err != nil {
				b.Fatal(err)
			}
			toks = append(toks, tok.Token)
		}
	}
	mint()
	var cpu time.Duration
	b.ReportAllocs()
	c0 := cpuTime()
	for i := 0; b.Loop(); i++ {
		if i%len(toks) == 0 && i > 0 {
			b.StopTimer()
			cpu += cpuTime() - c0
			mint()
			c0 = cpuTime()
			b.StartTimer()
		}
		if _, err := f.svc.Enroll(ctx, toks[i%len(toks)], csr); err != nil {
			b.Fatal(err)
		}
	}
	cpu += cpuTime() - c0
	b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
}

// BenchmarkRenew verifies a never-seen certificate the way the renewal route
// does and renews it with a CSR for a new key.
func BenchmarkRenew(b *testing.B) {
	ctx := context.Background()
	f := newFixture(b, "")
	csr := csrFor(b)
	pending := make([]*enroll.Issued, 0, 2048)
	issue := func() {
		pending = pending[:0]
		for range cap(pending) {
			pending = append(pending, f.enroll(b))
		}
	}
	issue()
	var cpu time.Duration
	b.ReportAllocs()
	c0 := cpuTime()
	for i := 0; b.Loop(); i++ {
		if i%len(pending) == 0 && i > 0 {
			b.StopTimer()
			cpu += cpuTime() - c0
			issue()
			c0 = cpuTime()
			b.StartTimer()
		}
		is := pending[i%len(pending)]
		p, err := f.svc.VerifyRenewal(ctx, []*x509.Certificate{is.Leaf, f.authority.Intermediate()})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.svc.Renew(ctx, p, csr); err != nil {
			b.Fatal(err)
		}
	}
	cpu += cpuTime() - c0
	b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
}

// cpuTime is the process's user + system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
