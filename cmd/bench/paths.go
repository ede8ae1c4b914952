package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/certbound/certbound/cmd/bench/internal/fixture"
	"github.com/certbound/certbound/cmd/bench/internal/load"
	"github.com/certbound/certbound/cmd/bench/internal/proc"
	"github.com/certbound/certbound/tokenex/verify"
)

const (
	formType = "application/x-www-form-urlencoded"
	jsonType = "application/json"
)

// tokenRequest is worker w's token request: its client's id, the rest
// defaults (all its scopes, its default audience).
func (e *env) tokenRequest(w int) []byte {
	body := "grant_type=client_credentials&client_id=" + e.names[w%len(e.names)]
	return load.Request("POST", e.at(w).Addr, "/oauth2/token", formType, []byte(body))
}

// mtls is the config pinning the certificate of worker w's server and
// presenting cert.
func (e *env) mtls(w int, cert tls.Certificate) *tls.Config {
	cfg := e.at(w).PinnedTLS()
	cfg.Certificates = []tls.Certificate{cert}
	return cfg
}

func expect(status, want int, body []byte) error {
	if status != want {
		if len(body) > 200 {
			body = body[:200]
		}
		return fmt.Errorf("status %d, want %d: %s", status, want, body)
	}
	return nil
}

// warm runs the ops untimed for the warm-up period.
func (b *bench) warm(c int, ops []load.Op) error {
	res, err := load.Run(nil, load.Plan{Concurrency: c, Duration: b.cfg.warmup}, ops)
	if err != nil {
		return err
	}
	if res.Errors > 0 {
		return fmt.Errorf("warm-up: %d errors, first: %w", res.Errors, res.FirstErr)
	}
	return nil
}

// tokenKeepAlive: each worker holds one mTLS connection and asks for token
// after token on it.
func (b *bench) tokenKeepAlive(_ context.Context, e *env, c int) (load.Result, error) {
	ops := make([]load.Op, c)
	var conns []*load.Conn
	defer func() {
		for _, cn := range conns {
			cn.Close()
		}
	}()
	for w := range c {
		cn, err := load.Dial(e.at(w).Addr, e.mtls(w, e.ids[w%len(e.ids)]))
		if err != nil {
			return load.Result{}, err
		}
		conns = append(conns, cn)
		req := e.tokenRequest(w)
		ops[w] = func() error {
			st, body, err := cn.Do(req)
			if err != nil {
				return err
			}
			return expect(st, http.StatusOK, body)
		}
	}
	if err := b.warm(c, ops); err != nil {
		return load.Result{}, err
	}
	return load.Run(e.meter, load.Plan{Concurrency: c, Duration: b.cfg.window}, ops)
}

// tokenFresh: every token request on a new TCP connection with a new TLS
// handshake — full, or resumed from the worker's session cache — closed
// after the response.
func (b *bench) tokenFresh(resume bool) func(context.Context, *env, int) (load.Result, error) {
	return func(_ context.Context, e *env, c int) (load.Result, error) {
		ops := make([]load.Op, c)
		for w := range c {
			cfg := e.mtls(w, e.ids[w%len(e.ids)])
			addr := e.at(w).Addr
			if resume {
				cfg.ClientSessionCache = tls.NewLRUClientSessionCache(1)
			}
			req := e.tokenRequest(w)
			ops[w] = func() error {
				cn, err := load.Dial(addr, cfg)
				if err != nil {
					return err
				}
				defer cn.Abort()
				st, body, err := cn.Do(req)
				if err != nil {
					return err
				}
				if err := expect(st, http.StatusOK, body); err != nil {
					return err
				}
				if resume && !cn.State().DidResume {
					return errNotResumed
				}
				return nil
			}
		}
		if resume {
			// One full handshake per worker first: its ticket arrives with
			// the first response.
			for w := range c {
				if err := ops[w](); err != nil && !errors.Is(err, errNotResumed) {
					return load.Result{}, err
				}
			}
		}
		if err := b.warm(c, ops); err != nil {
			return load.Result{}, err
		}
		return load.Run(e.meter, load.Plan{Concurrency: c, Duration: b.cfg.window}, ops)
	}
}

var errNotResumed = errors.New("the TLS handshake did not resume")

// enroll: keep-alive HTTPS connections without a client certificate; every
// request redeems a fresh one-time token (minted before the window) with one
// of 256 CSRs made in advance.
func (b *bench) enroll(ctx context.Context, e *env, c int) (load.Result, error) {
	n := b.cfg.enrollN[c]
	warm := 2 * c
	tokens, err := e.admin.MintTokens(ctx, enrollClient, n+warm)
	if err != nil {
		return load.Result{}, err
	}
	keys, err := fixture.NewKeys(enrollClient, min(n+warm, 256))
	if err != nil {
		return load.Result{}, err
	}
	reqs := make([][]byte, len(tokens))
	for i, t := range tokens {
		body, _ := json.Marshal(map[string]string{"token": t, "csr": string(keys[i%len(keys)].CSR)})
		reqs[i] = load.Request("POST", e.srv.Addr, "/v1/enroll", jsonType, body)
	}
	return runQueued(e.meter, c, warm, n, reqs, "enrollment tokens", func(w int) (*load.Conn, error) {
		return load.Dial(e.at(w).Addr, e.at(w).PinnedTLS())
	})
}

// renew: renewal re-keys, and each certificate renews once, so every
// renewal presents a certificate that has not been renewed. The loads work
// in batches of identities of bench-renew: with keepAlive, the batch's mTLS
// connections are opened before the timed window (their handshakes are not
// in it) and each carries one renewal; otherwise every renewal opens its own
// connection inside the window. The certificates a batch receives are the
// next batch's identities. Keys and CSRs are made before each window.
func (b *bench) renew(fresh bool) func(context.Context, *env, int) (load.Result, error) {
	return func(ctx context.Context, e *env, c int) (load.Result, error) {
		total := b.cfg.enrollN[c] * 2 / 3
		batch := max(2*c, 32) // each batch holds this many idle connections on the server
		var res load.Result
		for done := 0; done < total; {
			if len(e.renew) < batch {
				more, err := e.admin.Identities(ctx, renewClient, batch-len(e.renew))
				if err != nil {
					return res, err
				}
				e.renew = append(e.renew, more...)
			}
			k := min(batch, total-done)
			ids := e.renew[:k]
			keys, err := fixture.NewKeys(renewClient, k)
			if err != nil {
				return res, err
			}
			reqs := make([][]byte, k)
			for i := range k {
				reqs[i] = load.Request("POST", e.srv.Addr, "/v1/renew", jsonType, keys[i].JSONCSR())
			}
			var conns []*load.Conn
			if !fresh {
				if conns, err = dialAll(e, ids); err != nil {
					return res, err
				}
			}
			bodies := make([][]byte, k)
			var next atomic.Int64
			ops := make([]load.Op, c)
			for w := range c {
				ops[w] = func() error {
					i := next.Add(1) - 1
					cn := (*load.Conn)(nil)
					if fresh {
						d, err := load.Dial(e.at(int(i)).Addr, e.mtls(int(i), ids[i]))
						if err != nil {
							return err
						}
						defer d.Abort()
						cn = d
					} else {
						cn = conns[i]
					}
					st, body, err := cn.Do(reqs[i])
					if err != nil {
						return err
					}
					if err := expect(st, http.StatusCreated, body); err != nil {
						return err
					}
					bodies[i] = append([]byte(nil), body...)
					return nil
				}
			}
			r, err := load.Run(e.meter, load.Plan{Concurrency: c, Ops: k}, ops)
			for _, cn := range conns {
				cn.Close()
			}
			if err != nil {
				return res, err
			}
			res.Add(r)
			pool := append([]tls.Certificate(nil), e.renew[k:]...)
			for i, body := range bodies {
				if body == nil {
					continue // failed; counted in r.Errors
				}
				var is fixture.Issued
				if err := json.Unmarshal(body, &is); err != nil {
					return res, err
				}
				cert, err := keys[i].Certificate([]byte(is.Chain))
				if err != nil {
					return res, err
				}
				pool = append(pool, cert)
			}
			e.renew = pool
			done += k
			if res.Errors >= 100 {
				break
			}
		}
		return res, nil
	}
}

// dialAll opens one mTLS connection per identity, eight at a time.
func dialAll(e *env, ids []tls.Certificate) ([]*load.Conn, error) {
	conns := make([]*load.Conn, len(ids))
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			conns[i], errs[i] = load.Dial(e.at(i).Addr, e.mtls(i, id))
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, cn := range conns {
			if cn != nil {
				cn.Close()
			}
		}
		return nil, err
	}
	return conns, nil
}

// verify measures tokenex/verify in this process: Verifier.Verify of a
// bound token with the peer certificate (signature, header and claim rules,
// the x5t#S256 binding), on GOMAXPROCS goroutines while the server idles.
// CPU is this process's.
func (b *bench) verify(ctx context.Context, e *env) (load.Result, error) {
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: e.srv.Roots, ServerName: "127.0.0.1"}}}
	defer hc.CloseIdleConnections()
	v, err := verify.New(ctx, verify.Config{Issuer: e.srv.URL, Audience: fixture.Audience, HTTPClient: hc})
	if err != nil {
		return load.Result{}, err
	}
	cn, err := load.Dial(e.srv.Addr, e.mtls(0, e.ids[0]))
	if err != nil {
		return load.Result{}, err
	}
	st, body, err := cn.Do(e.tokenRequest(0))
	cn.Close()
	if err != nil {
		return load.Result{}, err
	}
	if err := expect(st, http.StatusOK, body); err != nil {
		return load.Result{}, err
	}
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &tr); err != nil {
		return load.Result{}, err
	}
	leaf, err := x509.ParseCertificate(e.ids[0].Certificate[0])
	if err != nil {
		return load.Result{}, err
	}
	if _, err := v.Verify(ctx, tr.AccessToken, leaf); err != nil {
		return load.Result{}, fmt.Errorf("a fresh token does not verify: %w", err)
	}
	n := runtime.GOMAXPROCS(0)
	ops := make([]load.Op, n)
	for w := range ops {
		ops[w] = func() error {
			_, err := v.Verify(ctx, tr.AccessToken, leaf)
			return err
		}
	}
	if err := b.warm(n, ops); err != nil {
		return load.Result{}, err
	}
	return load.Run(proc.Self(), load.Plan{Concurrency: n, Duration: b.cfg.window}, ops)
}
