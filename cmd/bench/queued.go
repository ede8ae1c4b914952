package main

import (
	"fmt"
	"net/http"
	"sync/atomic"

	"github.com/certbound/certbound/cmd/bench/internal/load"
)

// runQueued sends each of reqs once, in order, from c keep-alive
// connections (dial makes worker w's), expecting 201 for every one: warm
// requests untimed, then n timed by m. It fails when reqs run out, since
// each request carries something single-use (a token, a CSR).
func runQueued(m load.Meter, c, warm, n int, reqs [][]byte, what string, dial func(w int) (*load.Conn, error)) (load.Result, error) {
	var next atomic.Int64
	ops := make([]load.Op, c)
	var conns []*load.Conn
	defer func() {
		for _, cn := range conns {
			cn.Close()
		}
	}()
	for w := range c {
		cn, err := dial(w)
		if err != nil {
			return load.Result{}, err
		}
		conns = append(conns, cn)
		ops[w] = func() error {
			i := next.Add(1) - 1
			if i >= int64(len(reqs)) {
				return fmt.Errorf("out of %s", what)
			}
			st, body, err := cn.Do(reqs[i])
			if err != nil {
				return err
			}
			return expect(st, http.StatusCreated, body)
		}
	}
	if _, err := load.Run(nil, load.Plan{Concurrency: c, Ops: warm}, ops); err != nil {
		return load.Result{}, err
	}
	return load.Run(m, load.Plan{Concurrency: c, Ops: n}, ops)
}
