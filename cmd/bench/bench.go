package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/certbound/certbound/cmd/bench/internal/fixture"
	"github.com/certbound/certbound/cmd/bench/internal/floor"
	"github.com/certbound/certbound/cmd/bench/internal/load"
	"github.com/certbound/certbound/cmd/bench/internal/proc"
)

// Sections of the report.
const (
	smallDB       = "small"
	scaleDB       = "scale"
	pairedSmallDB = "small, paired with scale" // the small server's side of the scale comparison
)

// Path names and the primitives each one's floor is made of.
var paths = []struct {
	name  string
	floor []string
}{
	{pathEnroll, []string{floor.CSR, floor.Leaf, floor.SHA256}},
	{pathRenew, []string{floor.Chain, floor.CSR, floor.Leaf, floor.SHA256}},
	{pathRenewTLS, []string{floor.FullTLS, floor.Chain, floor.CSR, floor.Leaf, floor.SHA256}},
	{pathTokenKA, []string{floor.ES256Sign}},
	{pathTokenFull, []string{floor.FullTLS, floor.Chain, floor.ES256Sign}},
	{pathTokenResumed, []string{floor.ResumedTLS, floor.Chain, floor.ES256Sign}},
	{pathVerify, []string{floor.ES256Verify}},
}

const (
	pathEnroll       = "enrollment, keep-alive HTTPS"
	pathRenew        = "renewal, keep-alive mTLS"
	pathRenewTLS     = "renewal, new mTLS connection each"
	pathTokenKA      = "token, keep-alive mTLS"
	pathTokenFull    = "token, full TLS handshake each"
	pathTokenResumed = "token, resumed TLS each"
	pathVerify       = "verification at a resource server"
)

func floorOf(path string) []string {
	for _, p := range paths {
		if p.name == path {
			return p.floor
		}
	}
	return nil
}

// tokenClients is how many clients the token loads spread over; with the
// enrollment and renewal clients the small database holds ten.
const tokenClients = 8

type bench struct {
	cfg    config
	rep    *report
	floors floor.Floors
}

// env is one running server, or several replicas on one database, and what
// the loads use against it.
type env struct {
	section string
	srv     *proc.Server   // the admin API's server; the first of srvs
	srvs    []*proc.Server // the loads spread their workers over these
	admin   *fixture.Admin
	ids     []tls.Certificate // one identity per token client
	names   []string          // their client ids
	renew   []tls.Certificate // unrenewed identities of bench-renew
	meter   load.Meter        // srv, or srv under perf during the timed windows
}

func (b *bench) all(ctx context.Context) error {
	b.rep.Machine = machineInfo(b.cfg.binary)
	log.Printf("measuring the floor (best of 3 × %v per primitive)", b.cfg.floorDur/3)
	floors, err := floor.Measure(ctx, b.cfg.floorDur)
	if err != nil {
		return err
	}
	b.floors, b.rep.Floors = floors, floors

	dir := filepath.Join(b.cfg.work, "small")
	small, err := b.start(ctx, smallDB, dir, "first start, empty data dir (creates the CA)")
	if err != nil {
		return err
	}
	err = b.setup(ctx, small)
	if err == nil {
		err = b.runPaths(ctx, small)
	}
	if err == nil && b.cfg.steps["scale"] {
		err = b.scale(ctx, small)
	}
	if err == nil && b.cfg.stepCA != "" {
		err = b.compareStepCA(ctx, small)
	}
	if err == nil && b.cfg.steps["pg"] {
		err = b.postgres(ctx, small)
	}
	small.stop()
	if err != nil {
		return err
	}
	if err := b.restart(ctx, smallDB, dir, "restart, small database"); err != nil {
		return err
	}
	b.rep.dbSize(smallDB, dir)
	return nil
}

// scale builds the large database (a first start creates its CA, then the
// rows are written into the stopped server's file), starts a server on it
// next to the small one, and runs the token and enrollment loads on both,
// alternating, best of scaleRounds rounds each, so that both see the same
// machine.
func (b *bench) scale(ctx context.Context, small *env) error {
	dir := filepath.Join(b.cfg.work, "scale")
	e, err := b.start(ctx, scaleDB, dir, "")
	if err != nil {
		return err
	}
	e.stop()
	t0 := time.Now()
	if err := seed(ctx, filepath.Join(dir, "certbound.db"), b.cfg.clients-10, b.cfg.certs); err != nil {
		return err
	}
	b.rep.SeedTime = time.Since(t0)
	large, err := b.start(ctx, scaleDB, dir, fmt.Sprintf("start, %s clients / %s certificates", thousands(b.cfg.clients), thousands(b.cfg.certs)))
	if err != nil {
		return err
	}
	defer func() {
		large.stop()
		b.rep.dbSize(scaleDB, dir)
	}()
	if err := b.setup(ctx, large); err != nil {
		return err
	}
	for _, s := range b.steps(false) {
		if s.name != "token" && s.name != "enroll" {
			continue
		}
		for _, c := range b.cfg.conc {
			best := map[*env]row{}
			for round := range scaleRounds {
				for _, e := range []*env{small, large} {
					if err := ctx.Err(); err != nil {
						return err
					}
					log.Printf("%s: %s, C=%d (round %d)", e.section, s.path, c, round+1)
					stopPerf := b.perf(e, fmt.Sprintf("%s-%s-c%d-r%d", slug(e.section), slug(s.path), c, round+1), s.path)
					res, err := s.run(ctx, e, c)
					stopPerf()
					e.resetMeter()
					if err != nil {
						return fmt.Errorf("%s %s C=%d: %w", e.section, s.path, c, err)
					}
					x := newRow(e.section, s.path, c, res, b.floors.Sum(floorOf(s.path)...))
					if prev, ok := best[e]; ok {
						x = bestOf(prev, x)
					}
					best[e] = x
				}
			}
			small, large := best[small], best[large]
			small.Section = pairedSmallDB
			b.rep.Rows = append(b.rep.Rows, small, large)
		}
	}
	return nil
}

// scaleRounds is how often each scale comparison runs on each server.
const scaleRounds = 3

type step struct {
	name string
	path string
	run  func(context.Context, *env, int) (load.Result, error)
}

func (b *bench) steps(small bool) []step {
	var steps []step
	if b.cfg.steps["token"] {
		steps = append(steps,
			step{"token", pathTokenKA, b.tokenKeepAlive},
			step{"token", pathTokenFull, b.tokenFresh(false)},
			step{"token", pathTokenResumed, b.tokenFresh(true)})
	}
	if b.cfg.steps["enroll"] {
		steps = append(steps, step{"enroll", pathEnroll, b.enroll})
	}
	if small && b.cfg.steps["renew"] {
		steps = append(steps, step{"renew", pathRenew, b.renew(false)}, step{"renew", pathRenewTLS, b.renew(true)})
	}
	return steps
}

func (b *bench) serverArgs() []string {
	// The rate limits (100 enrollments/s per address, 100 tokens/s per
	// client by default) would otherwise be what the loads measure; the
	// auth-failure limit holds a token per in-flight request of an address
	// (burst 20), so more than 20 concurrent requests from 127.0.0.1 would
	// get 429 although none fails.
	return []string{"--rate-limit-enroll", "0", "--rate-limit-token", "0", "--rate-limit-auth-failures", "0",
		"--log-level", b.cfg.logLevel}
}

func (b *bench) start(ctx context.Context, section, dir, label string) (*env, error) {
	srv, err := proc.Start(ctx, proc.Config{Binary: b.cfg.binary, DataDir: dir, Args: b.serverArgs(), Env: b.cfg.env})
	if err != nil {
		return nil, err
	}
	if label != "" {
		b.rep.Starts = append(b.rep.Starts, startTime{label, srv.Started})
	}
	log.Printf("%s: certbound serve (pid %d) healthy after %v", section, srv.Pid, srv.Started.Round(time.Millisecond))
	return &env{section: section, srv: srv, srvs: []*proc.Server{srv}, admin: fixture.NewAdmin(srv), meter: srv}, nil
}

func (b *bench) restart(ctx context.Context, section, dir, label string) error {
	e, err := b.start(ctx, section, dir, label)
	if err != nil {
		return err
	}
	e.stop()
	return nil
}

func (e *env) stop() {
	e.admin.Close()
	for _, srv := range e.srvs {
		if err := srv.Stop(); err != nil {
			log.Printf("%s: %v", e.section, err)
		}
	}
}

// at is the server worker (or request) w talks to: round robin over the
// replicas, as a load balancer would spread connections.
func (e *env) at(w int) *proc.Server { return e.srvs[w%len(e.srvs)] }

// setup registers the ten clients of the loads and enrolls one identity for
// each token client and a first batch for renewal.
func (b *bench) setup(ctx context.Context, e *env) error {
	for i := range tokenClients {
		id := fmt.Sprintf("bench-tok-%d", i)
		if err := e.admin.CreateClient(ctx, id); err != nil {
			return err
		}
		ids, err := e.admin.Identities(ctx, id, 1)
		if err != nil {
			return err
		}
		e.ids, e.names = append(e.ids, ids[0]), append(e.names, id)
	}
	for _, id := range []string{enrollClient, renewClient} {
		if err := e.admin.CreateClient(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

const (
	enrollClient = "bench-enroll"
	renewClient  = "bench-renew"
)

func (b *bench) runPaths(ctx context.Context, e *env) error {
	steps := b.steps(true)
	for _, s := range steps {
		for _, c := range b.cfg.conc {
			if err := ctx.Err(); err != nil {
				return err
			}
			log.Printf("%s: %s, C=%d", e.section, s.path, c)
			stopPerf := b.perf(e, fmt.Sprintf("%s-%s-c%d", e.section, slug(s.path), c), s.path)
			res, err := s.run(ctx, e, c)
			stopPerf()
			e.resetMeter()
			if err != nil {
				return fmt.Errorf("%s C=%d: %w", s.path, c, err)
			}
			b.rep.add(e.section, s.path, c, res, b.floors.Sum(floorOf(s.path)...))
		}
		if s.path == pathTokenKA && b.cfg.steps["verify"] {
			log.Printf("%s: %s", e.section, pathVerify)
			res, err := b.verify(ctx, e)
			if err != nil {
				return fmt.Errorf("%s: %w", pathVerify, err)
			}
			b.rep.add(e.section, pathVerify, 0, res, b.floors.Sum(floorOf(pathVerify)...))
		}
	}
	return nil
}

// perf starts `perf record` on the server when -perf is set, with its
// events enabled only inside the timed windows (perf's control FIFO), and
// returns the function that stops it.
func (b *bench) perf(e *env, file, path string) func() {
	if b.cfg.perfDir == "" {
		return func() {}
	}
	out := filepath.Join(b.cfg.perfDir, file+".data")
	ctl, ack := out+".ctl", out+".ack"
	for _, f := range []string{ctl, ack} {
		os.Remove(f)
		if err := syscall.Mkfifo(f, 0o600); err != nil {
			log.Printf("perf: %v", err)
			return func() {}
		}
	}
	cmd := exec.Command("perf", "record", "-F", "997", "-g", "-p", fmt.Sprint(e.srv.Pid), "-o", out,
		"-D", "-1", "--control", "fifo:"+ctl+","+ack)
	if err := cmd.Start(); err != nil {
		log.Printf("perf: %v", err)
		return func() {}
	}
	cw, err1 := os.OpenFile(ctl, os.O_WRONLY, 0)
	ar, err2 := os.OpenFile(ack, os.O_RDONLY, 0)
	if err := errors.Join(err1, err2); err != nil {
		log.Printf("perf: %v", err)
		_ = cmd.Process.Kill()
		return func() {}
	}
	e.meter = &perfMeter{Meter: e.meter, ctl: cw, ack: ar} // perf records the first server only
	return func() {
		cw.Close()
		ar.Close()
		_ = cmd.Process.Signal(syscall.SIGINT)
		_ = cmd.Wait()
		os.Remove(ctl)
		os.Remove(ack)
		log.Printf("perf profile of %q (timed windows only): %s", path, out)
	}
}

// perfMeter enables perf's events for the timed windows only.
type perfMeter struct {
	load.Meter
	ctl, ack *os.File
}

func (p *perfMeter) command(c string) {
	if _, err := p.ctl.WriteString(c + "\n"); err == nil {
		var buf [16]byte
		_, _ = p.ack.Read(buf[:])
	}
}

func (p *perfMeter) WindowStart() { p.command("enable") }
func (p *perfMeter) WindowEnd()   { p.command("disable") }

// slug turns a path name into a file name.
func slug(s string) string {
	return strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' || '0' <= r && r <= '9' {
			return r
		}
		return '-'
	}, strings.ToLower(strings.ReplaceAll(s, ", ", "-")))
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}
