package main

// printPostgres prints the PostgreSQL comparison: two replicas on one
// database against the SQLite server, and step-ca on the same PostgreSQL.
func (r *report) printPostgres(p func(string, ...any)) {
	var rows []row
	for _, x := range r.Rows {
		if x.Section == pgDB {
			rows = append(rows, x)
		}
	}
	if len(rows) == 0 {
		return
	}
	p("### PostgreSQL (two replicas) against SQLite (one server)\n")
	p("Two `certbound serve` replicas (`--database postgres://…/<fresh database> --database-pool-size %d`) on PostgreSQL %s, "+
		"the load's workers spread round robin over both (enrollment tokens minted on A and redeemed on either); "+
		"against the SQLite server of this run, alternating, best of %d rounds each. "+
		"CPU/op is the sum of both replicas' CPU per operation; PostgreSQL's own processes are not in it. RSS is the larger replica's.\n",
		r.cfg.pgPool, r.Postgres, pgRounds)
	p("| path | C | PostgreSQL ops/s | p50 | p99 | CPU/op | SQLite ops/s | p50 | p99 | CPU/op | PostgreSQL ÷ SQLite (ops/s) | errors (pg/sqlite) |")
	p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, x := range rows {
		s, ok := r.find(pairedSQLiteDB, x.Path, x.Conc)
		if !ok || s.Throughput == 0 {
			continue
		}
		p("| %s | %d | %.0f | %s | %s | %s | %.0f | %s | %s | %s | %.2f | %d/%d |", x.Path, x.Conc,
			x.Throughput, ms(x.P50), ms(x.P99), us(x.CPUPerOp),
			s.Throughput, ms(s.P50), ms(s.P99), us(s.CPUPerOp), x.Throughput/s.Throughput, x.Errors, s.Errors)
	}
	p("")
	var theirs []row
	for _, x := range r.Rows {
		if x.Section == pgStepCA {
			theirs = append(theirs, x)
		}
	}
	if len(theirs) == 0 {
		return
	}
	p("### PostgreSQL: certbound (two replicas) against step-ca (%s), same PostgreSQL server\n", r.StepCA)
	p("step-ca with `\"db\": {\"type\": \"postgresql\", …}` on a fresh database of its own on the same server, one instance; "+
		"enrollment `POST /1.0/sign` with a one-time token vs certbound's `POST /v1/enroll` spread over both replicas; alternating, best of %d rounds each.\n", pgRounds)
	p("| path | C | certbound ops/s | p50 | p99 | step-ca ops/s | p50 | p99 | certbound ÷ step-ca | certbound CPU/op (both replicas) | step-ca CPU/op | errors (cb/step-ca) |")
	p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, t := range theirs {
		mine, ok := r.find(pairedPGStepCA, t.Path, t.Conc)
		if !ok || t.Throughput == 0 {
			continue
		}
		p("| %s | %d | %.0f | %s | %s | %.0f | %s | %s | %.2f | %s | %s | %d/%d |", t.Path, t.Conc,
			mine.Throughput, ms(mine.P50), ms(mine.P99), t.Throughput, ms(t.P50), ms(t.P99),
			mine.Throughput/t.Throughput, us(mine.CPUPerOp), us(t.CPUPerOp), mine.Errors, t.Errors)
	}
	p("")
}

// printPostgresTargets adds issue 12's targets: enrollment on PostgreSQL ≥
// 2 × step-ca's on PostgreSQL, and the token path on PostgreSQL within 10 %
// of SQLite's.
func (r *report) printPostgresTargets(p func(string, ...any), verdict func(bool) string) {
	for _, x := range r.Rows {
		if x.Section != pgDB || (x.Path != pathTokenKA && x.Path != pathTokenFull) {
			continue
		}
		if s, ok := r.find(pairedSQLiteDB, x.Path, x.Conc); ok && s.Throughput > 0 {
			q := x.Throughput / s.Throughput
			p("| %s C=%d on PostgreSQL (two replicas): throughput within 10 %% of SQLite's | %.0f/s vs %.0f/s = %.2f × | %s |",
				x.Path, x.Conc, x.Throughput, s.Throughput, q, verdict(q >= 0.9))
		}
	}
	for _, t := range r.Rows {
		if t.Section != pgStepCA {
			continue
		}
		if mine, ok := r.find(pairedPGStepCA, t.Path, t.Conc); ok && t.Throughput > 0 {
			q := mine.Throughput / t.Throughput
			p("| %s C=%d on PostgreSQL: ≥ 2 × step-ca's on PostgreSQL | %.0f/s vs %.0f/s = %.2f × | %s |",
				t.Path, t.Conc, mine.Throughput, t.Throughput, q, verdict(q >= 2))
		}
	}
}
