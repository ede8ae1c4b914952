package storagetest

import (
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/certbound/certbound/storage"
)

func enrollTokens(t *testing.T, open Opener) {
	f := newFixture(t, open)
	f.client("svc")
	expires := t0.Add(time.Hour)

	t.Run("accept/issue gets the token and its client, and the certificate is recorded", func(t *testing.T) {
		f := f.on(t)
		tok := f.token("good", "svc", expires)
		calls := 0
		got, err := f.s.RedeemEnrollToken(f.ctx, tok, t0, func(tk storage.EnrollToken, c storage.Client) (storage.Certificate, error) {
			calls++
			if !slices.Equal(tk.Hash, tok) || tk.ClientID != "svc" || !slices.Equal(tk.DNSNames, []string{"svc.internal"}) ||
				!tk.CreatedAt.Equal(t0) || !tk.ExpiresAt.Equal(expires) {
				t.Errorf("issue got the token %+v", tk)
			}
			if c.ID != "svc" || c.SANURI != "spiffe://certbound.test/svc" || !slices.Equal(c.Scopes, []string{"event.create", "event.read"}) {
				t.Errorf("issue got the client %+v", c)
			}
			return record("e01", c.ID, expires), nil
		})
		if err != nil || calls != 1 || got.Serial != "e01" {
			t.Fatalf("RedeemEnrollToken = %+v, %v after %d calls of issue", got, err, calls)
		}
		want := record("e01", "svc", expires)
		stored := f.cert("e01")
		if stored.Serial != want.Serial || stored.ClientID != "svc" || stored.Fingerprint != want.Fingerprint ||
			!stored.NotBefore.Equal(want.NotBefore) || !stored.NotAfter.Equal(want.NotAfter) || !stored.CreatedAt.Equal(t0) ||
			stored.RenewedFrom != "" || stored.SupersededBy != "" || stored.Revoked() || stored.RevocationReason != "" {
			t.Fatalf("recorded %+v, want %+v", stored, want)
		}
		if st := f.tokenState(tok, t0); st != storage.TokenUsed {
			t.Fatalf("token state after redemption %q", st)
		}
	})
	for _, tc := range []struct {
		name  string
		token func(*fixture) []byte
		at    time.Time
	}{
		{"reject/a used token", func(f *fixture) []byte {
			tok := f.token("used", "svc", expires)
			if _, err := f.s.RedeemEnrollToken(f.ctx, tok, t0, issueAs("u01", expires)); err != nil {
				f.t.Fatal(err)
			}
			return tok
		}, t0},
		{"reject/an expired token", func(f *fixture) []byte { return f.token("expired", "svc", t0.Add(-time.Second)) }, t0},
		{"reject/a token at its expiry instant", func(f *fixture) []byte { return f.token("at expiry", "svc", t0) }, t0},
		{"reject/a token the caller's clock says expired", func(f *fixture) []byte { return f.token("later", "svc", expires) }, expires.Add(time.Second)},
		{"reject/an unknown token", func(*fixture) []byte { return hash("never minted") }, t0},
	} {
		t.Run(tc.name+" is ErrNotFound and never reaches issue", func(t *testing.T) {
			f := f.on(t)
			tok := tc.token(f)
			before := f.serials(storage.CertificateFilter{ClientID: "svc"})
			_, err := f.s.RedeemEnrollToken(f.ctx, tok, tc.at, func(storage.EnrollToken, storage.Client) (storage.Certificate, error) {
				t.Error("issue called for a token that is not usable")
				return record("x01", "svc", expires), nil
			})
			if !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("RedeemEnrollToken = %v, want ErrNotFound", err)
			}
			if after := f.serials(storage.CertificateFilter{ClientID: "svc"}); !slices.Equal(before, after) {
				t.Fatalf("a refused redemption recorded something: %v → %v", before, after)
			}
		})
	}
	t.Run("reject/a token for an unknown client is ErrNotFound", func(t *testing.T) {
		err := f.s.InsertEnrollToken(f.ctx, storage.EnrollToken{Hash: hash("orphan"), ClientID: "nobody", CreatedAt: t0, ExpiresAt: expires})
		if !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("InsertEnrollToken(unknown client) = %v, want ErrNotFound", err)
		}
		if st := f.on(t).tokenState(hash("orphan"), t0); st != storage.TokenUnknown {
			t.Fatalf("the refused token is %q", st)
		}
	})
	t.Run("accept/an issue error leaves the token unused and nothing recorded", func(t *testing.T) {
		f := f.on(t)
		tok := f.token("issue fails", "svc", expires)
		boom := errors.New("bad csr")
		_, err := f.s.RedeemEnrollToken(f.ctx, tok, t0, func(storage.EnrollToken, storage.Client) (storage.Certificate, error) {
			return storage.Certificate{}, boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("RedeemEnrollToken = %v, want issue's error", err)
		}
		if st := f.tokenState(tok, t0); st != storage.TokenValid {
			t.Fatalf("token after a failed issue: %q, want %q", st, storage.TokenValid)
		}
		if _, err := f.s.RedeemEnrollToken(f.ctx, tok, t0, issueAs("f01", expires)); err != nil {
			t.Fatalf("the token was burnt by a failed issue: %v", err)
		}
	})
	t.Run("accept/a panicking issue leaves the token unused and reaches the caller", func(t *testing.T) {
		f := f.on(t)
		tok := f.token("issue panics", "svc", expires)
		func() {
			defer func() {
				if r := recover(); r != "boom" {
					t.Errorf("recovered %v, want issue's panic", r)
				}
			}()
			_, _ = f.s.RedeemEnrollToken(f.ctx, tok, t0, func(storage.EnrollToken, storage.Client) (storage.Certificate, error) {
				panic("boom")
			})
		}()
		if _, err := f.s.RedeemEnrollToken(f.ctx, tok, t0, issueAs("p01", expires)); err != nil {
			t.Fatalf("the token after a panicking issue: %v", err)
		}
	})
	t.Run("reject/a duplicate serial is ErrConflict and leaves the token unused", func(t *testing.T) {
		f := f.on(t)
		f.enroll("svc", "d01", expires)
		tok := f.token("dup serial", "svc", expires)
		if _, err := f.s.RedeemEnrollToken(f.ctx, tok, t0, issueAs("d01", expires)); !errors.Is(err, storage.ErrConflict) {
			t.Fatalf("RedeemEnrollToken(existing serial) = %v, want ErrConflict", err)
		}
		if st := f.tokenState(tok, t0); st != storage.TokenValid {
			t.Fatalf("token after the conflict: %q", st)
		}
		if _, err := f.s.RedeemEnrollToken(f.ctx, tok, t0, issueAs("d02", expires)); err != nil {
			t.Fatalf("the token was burnt by a rolled-back insert: %v", err)
		}
	})
	t.Run("accept/EnrollTokenState tells unknown, valid, used and expired apart", func(t *testing.T) {
		f := f.on(t)
		valid := f.token("st-valid", "svc", expires)
		used := f.token("st-used", "svc", expires)
		if _, err := f.s.RedeemEnrollToken(f.ctx, used, t0, issueAs("st01", expires)); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			tok  []byte
			at   time.Time
			want string
		}{
			{hash("st-never"), t0, storage.TokenUnknown},
			{valid, t0, storage.TokenValid},
			{valid, expires, storage.TokenExpired},
			{used, t0, storage.TokenUsed},
			{used, expires.Add(time.Hour), storage.TokenUsed}, // a replay, even late
		} {
			if got := f.tokenState(tc.tok, tc.at); got != tc.want {
				t.Errorf("EnrollTokenState(%x…, %s) = %q, want %q", tc.tok[:4], tc.at.Sub(t0), got, tc.want)
			}
		}
	})
	t.Run("accept/DeleteExpiredEnrollTokens removes only tokens expired before the cutoff", func(t *testing.T) {
		f := newFixture(t, open)
		f.client("svc")
		old := f.token("old", "svc", t0.Add(-2*time.Hour))
		edge := f.token("edge", "svc", t0.Add(-time.Hour))
		fresh := f.token("fresh", "svc", t0.Add(time.Hour))
		n, err := f.s.DeleteExpiredEnrollTokens(f.ctx, t0.Add(-time.Hour))
		if err != nil || n != 1 {
			t.Fatalf("DeleteExpiredEnrollTokens = %d, %v; want 1", n, err)
		}
		for tok, want := range map[*[]byte]string{&old: storage.TokenUnknown, &edge: storage.TokenExpired, &fresh: storage.TokenValid} {
			if got := f.tokenState(*tok, t0); got != want {
				t.Errorf("token state %q, want %q", got, want)
			}
		}
	})
	t.Run("concurrency/of many redemptions of one token exactly one issues a certificate", func(t *testing.T) {
		f := f.on(t)
		f.client("race")
		tok := f.token("raced", "race", expires)
		const n = 24
		var issued atomic.Int32
		errs := make([]error, n)
		race(n, func(i int) {
			_, errs[i] = f.s.RedeemEnrollToken(f.ctx, tok, t0, func(tk storage.EnrollToken, c storage.Client) (storage.Certificate, error) {
				issued.Add(1)
				return record(fmt.Sprintf("r%02d", i), c.ID, expires), nil
			})
		})
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, storage.ErrNotFound) && !errors.Is(err, storage.ErrConflict):
				t.Errorf("a losing redemption: %v, want ErrNotFound or ErrConflict", err)
			}
		}
		if recorded := f.serials(storage.CertificateFilter{ClientID: "race"}); ok != 1 || len(recorded) != 1 {
			t.Fatalf("%d redemptions succeeded and %v were recorded, want 1 and 1", ok, recorded)
		}
		if issued.Load() != 1 {
			t.Fatalf("issue ran %d times for one token, want once", issued.Load())
		}
	})
	t.Run("concurrency/redemptions whose issue fails leave their tokens unused while others succeed", func(t *testing.T) {
		f := f.on(t)
		f.client("mixed")
		const n = 24
		toks := make([][]byte, n)
		for i := range n {
			toks[i] = f.token(fmt.Sprint("mixed ", i), "mixed", expires)
		}
		refused := errors.New("refused")
		errs := make([]error, n)
		race(n, func(i int) {
			_, errs[i] = f.s.RedeemEnrollToken(f.ctx, toks[i], t0, func(_ storage.EnrollToken, c storage.Client) (storage.Certificate, error) {
				if i%3 == 0 {
					return storage.Certificate{}, refused
				}
				return record(fmt.Sprintf("m%02d", i), c.ID, expires), nil
			})
		})
		for i := range n {
			st := f.tokenState(toks[i], t0)
			_, getErr := f.s.GetCertificate(f.ctx, fmt.Sprintf("m%02d", i))
			if i%3 == 0 {
				if !errors.Is(errs[i], refused) || st != storage.TokenValid || !errors.Is(getErr, storage.ErrNotFound) {
					t.Errorf("reject/%d: %v, token %q, record %v", i, errs[i], st, getErr)
				}
			} else if errs[i] != nil || st != storage.TokenUsed || getErr != nil {
				t.Errorf("accept/%d: %v, token %q, record %v", i, errs[i], st, getErr)
			}
		}
	})
}
