package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/certbound/certbound/cmd/bench/internal/fixture"
	"github.com/certbound/certbound/cmd/bench/internal/load"
	"github.com/certbound/certbound/cmd/bench/internal/proc"
)

// Sections of the PostgreSQL comparison.
const (
	pgDB           = "postgres, two replicas"
	pairedSQLiteDB = "sqlite, paired with postgres" // the small server's side of it
)

// pgRounds is how often each PostgreSQL comparison runs on each side.
const pgRounds = 2

// pgPaths are the loads the PostgreSQL comparison runs: the ones that write
// (enrollment, renewal) and the token path, which reads from caches and
// should not feel the database at all.
var pgPaths = map[string]bool{pathTokenKA: true, pathTokenFull: true, pathEnroll: true, pathRenew: true}

// postgres runs the enrollment, renewal and token loads against two
// `certbound serve` replicas on one fresh PostgreSQL database, alternating
// with the SQLite server small, best of pgRounds rounds each; with -stepca
// it then compares enrollment with step-ca on PostgreSQL too. An
// unreachable server skips all of it, loudly, in the log and the report.
func (b *bench) postgres(ctx context.Context, small *env) error {
	admin, err := dialPostgres(ctx, b.cfg.pgServer)
	if err != nil {
		msg := fmt.Sprintf("*** PostgreSQL not reachable at %s (%v): the PostgreSQL loads are SKIPPED; set %s=postgres://… ***",
			redactURL(b.cfg.pgServer), err, envPostgres)
		log.Print(msg)
		b.rep.Notes = append(b.rep.Notes, msg)
		return nil
	}
	defer admin.close()
	b.rep.Postgres = admin.version(ctx)
	name, dbURL, err := admin.create(ctx, "cb")
	if err != nil {
		return err
	}
	defer func() {
		if err := admin.drop(name); err != nil {
			log.Print(err)
		}
	}()
	log.Printf("postgres: database %s on %s", name, redactURL(b.cfg.pgServer))
	pg, err := b.startReplicas(ctx, dbURL)
	if err != nil {
		return err
	}
	defer pg.stop()
	if err := b.setup(ctx, pg); err != nil {
		return err
	}
	for _, s := range b.steps(true) {
		if !pgPaths[s.path] {
			continue
		}
		for _, c := range b.cfg.conc {
			best := map[*env]row{}
			for round := range pgRounds {
				for _, e := range []*env{small, pg} {
					if err := ctx.Err(); err != nil {
						return err
					}
					log.Printf("%s: %s, C=%d (round %d)", e.section, s.path, c, round+1)
					res, err := s.run(ctx, e, c)
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
			mine := best[small]
			mine.Section = pairedSQLiteDB
			b.rep.Rows = append(b.rep.Rows, mine, best[pg])
		}
	}
	if b.cfg.stepCA != "" && b.cfg.steps["enroll"] {
		return b.compareStepCAPostgres(ctx, pg, admin)
	}
	return nil
}

// startReplicas starts replica A alone on the empty database (it migrates
// and bootstraps the CA), then replica B, which joins with the database URL
// and the CA password only; B must chain to A's root.
func (b *bench) startReplicas(ctx context.Context, dbURL string) (*env, error) {
	pw := filepath.Join(b.cfg.work, "pg-ca-password")
	if err := os.WriteFile(pw, []byte("bench: the CA password of both replicas\n"), 0o600); err != nil {
		return nil, err
	}
	args := append(b.serverArgs(), "--database", dbURL, "--database-pool-size", strconv.Itoa(b.cfg.pgPool), "--password-file", pw)
	var srvs []*proc.Server
	stopAll := func() {
		for _, s := range srvs {
			_ = s.Stop()
		}
	}
	for i, name := range []string{"A", "B"} {
		cfg := proc.Config{Binary: b.cfg.binary, DataDir: filepath.Join(b.cfg.work, "pg-"+name), Args: args, Env: b.cfg.env}
		if i > 0 {
			cfg.AdminKey, cfg.RootPEM = srvs[0].AdminKey, srvs[0].RootPEM
		}
		srv, err := proc.Start(ctx, cfg)
		if err != nil {
			stopAll()
			return nil, fmt.Errorf("postgres replica %s: %w", name, err)
		}
		srvs = append(srvs, srv)
		label := "PostgreSQL replica A, empty database (migrates, creates the CA)"
		if i > 0 {
			label = "PostgreSQL replica B, joining"
		}
		b.rep.Starts = append(b.rep.Starts, startTime{label, srv.Started})
		log.Printf("%s: replica %s (pid %d) healthy after %v", pgDB, name, srv.Pid, srv.Started)
	}
	e := &env{section: pgDB, srv: srvs[0], srvs: srvs, admin: fixture.NewAdmin(srvs[0])}
	e.resetMeter()
	return e, nil
}

// Sections of the step-ca comparison on PostgreSQL.
const (
	pgStepCA       = "step-ca on postgres"
	pairedPGStepCA = "certbound on postgres, paired with step-ca"
)

// compareStepCAPostgres runs the enrollment load against the two replicas
// and against step-ca on a database of its own on the same PostgreSQL
// server, alternating, best of pgRounds rounds each.
func (b *bench) compareStepCAPostgres(ctx context.Context, pg *env, admin *pgAdmin) error {
	name, dbURL, err := admin.create(ctx, "stepca")
	if err != nil {
		return err
	}
	defer func() {
		if err := admin.drop(name); err != nil {
			log.Print(err)
		}
	}()
	dir := filepath.Join(b.cfg.work, "step-ca-postgres")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	s, err := startStepCA(ctx, b.cfg.stepCA, dir, stepPostgres(dbURL, name))
	if err != nil {
		return err
	}
	defer s.stop()
	b.rep.StepCA = s.version
	log.Printf("%s: %s (pid %d) listening on %s, database %s", pgStepCA, s.version, s.Pid, s.addr, name)
	for _, c := range b.cfg.conc {
		best := map[string]row{}
		for round := range pgRounds {
			for _, sd := range []struct {
				section string
				run     func() (load.Result, error)
			}{
				{pgDB, func() (load.Result, error) { return b.enroll(ctx, pg, c) }},
				{pgStepCA, func() (load.Result, error) { return s.enroll(b.cfg.enrollN[c], c) }},
			} {
				if err := ctx.Err(); err != nil {
					return err
				}
				log.Printf("%s: %s, C=%d (round %d)", sd.section, pathEnroll, c, round+1)
				res, err := sd.run()
				if err != nil {
					return fmt.Errorf("%s %s C=%d: %w", sd.section, pathEnroll, c, err)
				}
				var fl time.Duration // step-ca's path has no floor of certbound's
				if sd.section == pgDB {
					fl = b.floors.Sum(floorOf(pathEnroll)...)
				}
				x := newRow(sd.section, pathEnroll, c, res, fl)
				if prev, ok := best[sd.section]; ok {
					x = bestOf(prev, x)
				}
				best[sd.section] = x
			}
		}
		mine := best[pgDB]
		mine.Section = pairedPGStepCA
		b.rep.Rows = append(b.rep.Rows, mine, best[pgStepCA])
	}
	return nil
}
