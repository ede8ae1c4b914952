package floor

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"runtime"
	"syscall"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Names of the primitives, in report order.
const (
	CSR         = "CSR parse + signature check"
	Leaf        = "leaf creation (sign + parse)"
	ES256Sign   = "ES256 JWT sign"
	ES256Verify = "ES256 JWT verify"
	SHA256      = "SHA-256 of a certificate"
	Chain       = "chain verification (leaf → intermediate → root)"
	FullTLS     = "TLS 1.3 full handshake + client cert (server CPU)"
	ResumedTLS  = "TLS 1.3 resumed handshake (server CPU)"
)

// Order lists the primitives as the report prints them.
var Order = []string{CSR, Leaf, ES256Sign, ES256Verify, SHA256, Chain, FullTLS, ResumedTLS}

// Floors maps a primitive's name to its CPU time per operation.
type Floors map[string]time.Duration

// Sum adds up the named primitives: the floor of a path.
func (f Floors) Sum(names ...string) time.Duration {
	var d time.Duration
	for _, n := range names {
		d += f[n]
	}
	return d
}

// threadCPU is the calling thread's user + system time. The caller must be
// locked to its thread (runtime.LockOSThread).
func threadCPU() time.Duration {
	var ru syscall.Rusage
	const rusageThread = 1 // RUSAGE_THREAD, Linux
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure runs op on one locked OS thread for at least d (and at least 20
// times) after a short warm-up and returns the thread's CPU time per call.
func measure(d time.Duration, op func() error) (time.Duration, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for range 5 {
		if err := op(); err != nil {
			return 0, err
		}
	}
	c0, n := threadCPU(), 0
	for end := time.Now().Add(d); n < 20 || time.Now().Before(end); n++ {
		if err := op(); err != nil {
			return 0, err
		}
	}
	return (threadCPU() - c0) / time.Duration(n), nil
}

// Measure measures every primitive for about d each (in three rounds, the
// least kept).
func Measure(ctx context.Context, d time.Duration) (Floors, error) {
	fx, err := newFixtures()
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(fx.dir)
	out := Floors{}
	csrBlock := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: fx.csr})
	tokenInput, tokenSig := fx.token()
	var steps2 []step
	steps := []struct {
		name string
		op   func() error
	}{
		{CSR, func() error {
			b, _ := pem.Decode(csrBlock)
			if b == nil {
				return errors.New("no PEM")
			}
			r, err := x509.ParseCertificateRequest(b.Bytes)
			if err != nil {
				return err
			}
			return r.CheckSignature()
		}},
		{Leaf, func() error {
			serial := make([]byte, 16)
			_, _ = rand.Read(serial)
			tmpl := *fx.leafTemplate
			tmpl.SerialNumber = new(big.Int).SetBytes(serial)
			der, err := x509.CreateCertificate(rand.Reader, &tmpl, fx.auth.Intermediate(), &fx.clientKey.PublicKey, fx.interKey)
			if err != nil {
				return err
			}
			_, err = x509.ParseCertificate(der)
			return err
		}},
		{ES256Sign, func() error {
			_, err := jwt.SigningMethodES256.Sign(tokenInput, fx.jwtKey)
			return err
		}},
		{ES256Verify, func() error {
			return jwt.SigningMethodES256.Verify(tokenInput, tokenSig, &fx.jwtKey.PublicKey)
		}},
		{SHA256, func() error {
			sum := sha256.Sum256(fx.leaf.Raw)
			_ = base64.RawURLEncoding.EncodeToString(sum[:])
			return nil
		}},
		{Chain, func() error {
			_, err := fx.leaf.Verify(fx.verifyOpts)
			return err
		}},
	}
	for _, s := range steps {
		s := s
		steps2 = append(steps2, step{s.name, func(d time.Duration) (time.Duration, error) { return measure(d, s.op) }})
	}
	steps2 = append(steps2,
		step{FullTLS, func(d time.Duration) (time.Duration, error) { return fx.handshake(d, false) }},
		step{ResumedTLS, func(d time.Duration) (time.Duration, error) { return fx.handshake(d, true) }})
	// Three rounds over all primitives, the least of each kept: a floor is
	// a lower bound, and a neighbour's burst only ever adds.
	for round := range rounds {
		for _, s := range steps2 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			v, err := s.measure(d / rounds)
			if err != nil {
				return nil, fmt.Errorf("floor %s: %w", s.name, err)
			}
			if prev, ok := out[s.name]; !ok || round == 0 || v < prev {
				out[s.name] = v
			}
		}
	}
	return out, nil
}

// rounds is how often each primitive is measured.
const rounds = 3

type step struct {
	name    string
	measure func(time.Duration) (time.Duration, error)
}
