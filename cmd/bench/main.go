// Command bench is certbound's benchmark suite (`make bench`). In one run on
// one machine it measures the crypto floor of each path, then runs
// `certbound serve` as a child process on 127.0.0.1 and loads it —
// enrollment, renewal, token issuance (keep-alive, fresh and resumed TLS) —
// at several concurrencies, reading the server's own CPU time and memory from
// /proc around each timed window; it measures token verification at a
// resource server in-process; and it repeats the token and enrollment loads
// on a database of 100,000 clients and 1,000,000 certificates; and it runs
// the enrollment, renewal and token loads against two replicas on one fresh
// PostgreSQL database, alternating with the SQLite server (step pg; with
// -stepca also enrollment against step-ca on the same PostgreSQL). It prints
// one Markdown report.
//
// The load generator and the server share the machine's cores, so
// throughput is bounded by both; server CPU per operation is not. Every load
// goes to loopback and stops by itself (a fixed number of operations or a
// fixed time per step). BENCH_SHORT=1 or -short makes a quick run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// config is the run's shape, from flags.
type config struct {
	binary   string
	work     string
	keep     bool
	short    bool
	conc     []int
	window   time.Duration // duration-based steps (tokens, verification)
	warmup   time.Duration
	floorDur time.Duration
	enrollN  map[int]int // operations per enrollment/renewal step, by concurrency
	clients  int         // scale: registered clients
	certs    int         // scale: certificate rows
	steps    map[string]bool
	logLevel string
	perfDir  string
	jsonOut  string
	env      []string // extra environment of the server, KEY=value
	stepCA   string   // step-ca binary for the comparison; "" skips it
	pgServer string   // PostgreSQL server the pg step creates its databases on
	pgPool   int      // --database-pool-size of each replica
}

const allSteps = "floor,token,verify,enroll,renew,scale,pg"

func main() {
	log.SetFlags(0)
	log.SetPrefix("bench: ")
	var cfg config
	var conc, steps string
	short, _ := strconv.ParseBool(os.Getenv("BENCH_SHORT"))
	flag.StringVar(&cfg.binary, "certbound", "bin/certbound", "the certbound binary to load")
	flag.StringVar(&cfg.work, "work", "", "working directory for data dirs and logs (default: a new temporary directory, removed afterwards)")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the working directory")
	flag.BoolVar(&cfg.short, "short", short, "quick run: shorter windows, fewer operations, a 10,000-client / 100,000-certificate scale database (also BENCH_SHORT=1)")
	flag.StringVar(&conc, "c", "1,16,64", "concurrencies")
	flag.StringVar(&steps, "steps", allSteps, "steps to run")
	flag.StringVar(&cfg.logLevel, "log-level", "info", "the server's --log-level (info is the product default: one line per request)")
	flag.StringVar(&cfg.perfDir, "perf", "", "record `perf` profiles of the server, one per load step, into this directory")
	flag.StringVar(&cfg.jsonOut, "json", "", "also write the results as JSON to this file")
	flag.StringVar(&cfg.stepCA, "stepca", "", "also run the enrollment and renewal loads against this step-ca binary, side by side (make bench-compare)")
	flag.StringVar(&cfg.pgServer, "postgres", "", "PostgreSQL server for the pg step (a postgres:// URL of a role that may CREATE DATABASE; default $"+envPostgres+", else "+defaultPostgres+"); each run creates its databases there and drops them")
	flag.IntVar(&cfg.pgPool, "pg-pool", 8, "--database-pool-size of each PostgreSQL replica")
	flag.Func("server-env", "`KEY=value` added to the server's environment, e.g. GOGC=200 (repeatable)", func(s string) error {
		if !strings.Contains(s, "=") {
			return fmt.Errorf("want KEY=value, got %q", s)
		}
		cfg.env = append(cfg.env, s)
		return nil
	})
	flag.Parse()
	cfg.pgServer = pgServer(cfg.pgServer)
	for _, s := range strings.Split(conc, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			log.Fatalf("-c: bad concurrency %q", s)
		}
		cfg.conc = append(cfg.conc, n)
	}
	cfg.steps = map[string]bool{}
	for _, s := range strings.Split(steps, ",") {
		if !strings.Contains(allSteps, strings.TrimSpace(s)) {
			log.Fatalf("-steps: unknown step %q (known: %s)", s, allSteps)
		}
		cfg.steps[strings.TrimSpace(s)] = true
	}
	cfg.window, cfg.warmup, cfg.floorDur = 5*time.Second, 500*time.Millisecond, time.Second
	cfg.enrollN = map[int]int{1: 1500}
	cfg.clients, cfg.certs = 100_000, 1_000_000
	if cfg.short {
		cfg.window, cfg.warmup, cfg.floorDur = time.Second, 200*time.Millisecond, 200*time.Millisecond
		cfg.enrollN = map[int]int{1: 200}
		cfg.clients, cfg.certs = 10_000, 100_000
	}
	for _, c := range cfg.conc {
		if _, ok := cfg.enrollN[c]; !ok {
			cfg.enrollN[c] = map[bool]int{false: 6000, true: 800}[cfg.short]
		}
	}
	if _, err := os.Stat(cfg.binary); err != nil {
		log.Fatalf("%v (build it first: make build)", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, cfg config) error {
	if cfg.work == "" {
		dir, err := os.MkdirTemp("", "certbound-bench-")
		if err != nil {
			return err
		}
		cfg.work = dir
		if !cfg.keep {
			defer os.RemoveAll(dir)
		}
	} else if err := os.MkdirAll(cfg.work, 0o700); err != nil {
		return err
	}
	if cfg.perfDir != "" {
		if err := os.MkdirAll(cfg.perfDir, 0o755); err != nil {
			return err
		}
	}
	abs, err := filepath.Abs(cfg.binary)
	if err != nil {
		return err
	}
	cfg.binary = abs
	b := &bench{cfg: cfg, rep: newReport(cfg)}
	t0 := time.Now()
	err = b.all(ctx)
	b.rep.Elapsed = time.Since(t0)
	if err != nil && !errors.Is(err, context.Canceled) {
		b.rep.Notes = append(b.rep.Notes, "the run stopped early: "+err.Error())
	}
	b.rep.print(os.Stdout)
	if cfg.jsonOut != "" {
		if werr := b.rep.writeJSON(cfg.jsonOut); werr != nil {
			return errors.Join(err, werr)
		}
	}
	if err != nil {
		return fmt.Errorf("run stopped: %w", err)
	}
	return nil
}
