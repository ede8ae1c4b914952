package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/certbound/certbound/cmd/bench/internal/floor"
	"github.com/certbound/certbound/cmd/bench/internal/load"
)

type row struct {
	Section    string
	Path       string
	Conc       int
	Ops        int
	Errors     int
	FirstErr   string `json:",omitempty"`
	Throughput float64
	P50, P99   time.Duration
	CPUPerOp   time.Duration
	Floor      time.Duration
	RSSMax     uint64
	Peak       uint64
}

func (r row) ratio() float64 {
	if r.Floor == 0 {
		return 0
	}
	return float64(r.CPUPerOp) / float64(r.Floor)
}

type startTime struct {
	Label string
	Took  time.Duration
}

type machine struct {
	CPU, Kernel, Go, Certbound string
	Cores, GOMAXPROCS          int
	Date                       string
}

type report struct {
	cfg      config
	Machine  machine
	Floors   floor.Floors
	Rows     []row
	Starts   []startTime
	DBSizes  map[string]int64
	SeedTime time.Duration
	StepCA   string // version of the step-ca compared with, if any
	Postgres string // server_version of the PostgreSQL the pg step ran on, if any
	Elapsed  time.Duration
	Notes    []string
}

func newReport(cfg config) *report { return &report{cfg: cfg, DBSizes: map[string]int64{}} }

func (r *report) add(section, path string, c int, res load.Result, fl time.Duration) {
	r.Rows = append(r.Rows, newRow(section, path, c, res, fl))
}

func newRow(section, path string, c int, res load.Result, fl time.Duration) row {
	x := row{Section: section, Path: path, Conc: c, Ops: res.Ops, Errors: res.Errors, Throughput: res.Throughput(),
		P50: res.Percentile(50), P99: res.Percentile(99), CPUPerOp: res.CPUPerOp(), Floor: fl, RSSMax: res.RSSMax, Peak: res.Peak}
	if res.FirstErr != nil {
		x.FirstErr = res.FirstErr.Error()
	}
	if path == pathVerify && res.ServerCPU > 0 { // in-process: operations per CPU-second
		x.Throughput = float64(res.Ops) / res.ServerCPU.Seconds()
		x.RSSMax, x.Peak = 0, 0
	}
	return x
}

// bestOf keeps the run with the higher throughput, and the lower server CPU
// per operation of the two: on a shared machine the better figure is the
// one less disturbed by others.
func bestOf(a, b row) row {
	best := a
	if b.Throughput > a.Throughput {
		best = b
	}
	best.CPUPerOp = min(a.CPUPerOp, b.CPUPerOp)
	best.Errors = a.Errors + b.Errors
	best.RSSMax, best.Peak = max(a.RSSMax, b.RSSMax), max(a.Peak, b.Peak)
	return best
}

func (r *report) dbSize(section, dir string) {
	db := filepath.Join(dir, "certbound.db")
	r.DBSizes[section] = fileSize(db) + fileSize(db+"-wal")
}

// lowestCPU is the measurement of path at concurrency c on the 10-client
// server with the lowest server CPU per operation: its own row and, when the
// run has them, its side of the scale and step-ca comparisons (each already
// the best of their rounds). Interference from the generator and the rest of
// the machine only ever adds CPU time, so the lowest of several windows is
// the best estimate of what the path itself costs; n says how many there were.
func (r *report) lowestCPU(path string, c int) (best row, n int) {
	for _, x := range r.Rows {
		if x.Path != path || x.Conc != c || x.Floor == 0 || (x.Section != smallDB && x.Section != pairedSmallDB && x.Section != pairedStepCADB) {
			continue
		}
		if n == 0 || x.CPUPerOp < best.CPUPerOp {
			best = x
		}
		n++
	}
	return best, n
}

// measured describes the lowest-CPU measurement for the targets table.
func measured(x row, n int, single row) string {
	if n <= 1 {
		return fmt.Sprintf("%s = %.2f ×", us(x.CPUPerOp), x.ratio())
	}
	return fmt.Sprintf("%s = %.2f × (lowest of %d measurements; the table's single run: %s = %.2f ×)",
		us(x.CPUPerOp), x.ratio(), n, us(single.CPUPerOp), single.ratio())
}

func (r *report) find(section, path string, c int) (row, bool) {
	for _, x := range r.Rows {
		if x.Section == section && x.Path == path && x.Conc == c {
			return x, true
		}
	}
	return row{}, false
}

func machineInfo(binary string) machine {
	m := machine{Cores: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), Go: runtime.Version(),
		Date: time.Now().UTC().Format("2006-01-02 15:04 UTC")}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if out, err := exec.Command(binary, "version").Output(); err == nil {
		m.Certbound = strings.TrimSpace(string(out))
	}
	return m
}

func us(d time.Duration) string {
	v := float64(d) / float64(time.Microsecond)
	if v >= 100 {
		return fmt.Sprintf("%.0f µs", v)
	}
	return fmt.Sprintf("%.1f µs", v)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func mib(b uint64) string {
	if b == 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f", float64(b)/(1<<20))
}

func (r *report) scaleLabel() string {
	return fmt.Sprintf("%s clients, %s certificate rows", thousands(r.cfg.clients), thousands(r.cfg.certs))
}

func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func (r *report) print(w io.Writer) {
	m := r.Machine
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	p("## certbound benchmark (%s)\n", m.Date)
	p("Machine: %s, %d cores (GOMAXPROCS %d), Linux %s, %s; %s. Run took %v%s.\n",
		m.CPU, m.Cores, m.GOMAXPROCS, m.Kernel, m.Go, m.Certbound, r.Elapsed.Round(time.Second),
		map[bool]string{true: " (BENCH_SHORT: short windows, small scale database)", false: ""}[r.cfg.short])
	p("The load generator (this program) and `certbound serve` share these %d cores: throughput is what the two "+
		"together reach; **server CPU/op** is the server process's own utime+stime (/proc/<pid>/stat) during the timed "+
		"window divided by the operations, and does not depend on the generator. RSS is the server's VmRSS, sampled every "+
		"50 ms (max), and VmHWM (peak) reset at the start of each window. Server flags: `%s`.\n",
		m.Cores, strings.Join(append(append(slices.Clone(r.cfg.env), "certbound", "serve", "--listen", "127.0.0.1:<port>"), r.cfg.serverArgsDoc()...), " "))

	if len(r.Floors) > 0 {
		p("### Floor: CPU per operation, one thread\n")
		p("| primitive | CPU/op |")
		p("|---|---:|")
		for _, n := range floor.Order {
			p("| %s | %s |", n, us(r.Floors[n]))
		}
		p("")
		p("| path | its floor |")
		p("|---|---|")
		for _, x := range paths {
			p("| %s | %s = %s |", x.name, strings.Join(x.floor, " + "), us(r.Floors.Sum(x.floor...)))
		}
		p("")
	}

	for _, sec := range []string{smallDB, scaleDB} {
		var rows []row
		for _, x := range r.Rows {
			if x.Section == sec {
				rows = append(rows, x)
			}
		}
		if len(rows) == 0 {
			continue
		}
		title := "10 registered clients"
		if sec == scaleDB {
			title = r.scaleLabel() + fmt.Sprintf(" (best of %d rounds, alternating with the 10-client server)", scaleRounds)
		}
		p("### Loads: %s\n", title)
		p("| path | C | ops/s | p50 | p99 | server CPU/op | floor | × floor | RSS max MiB | RSS peak MiB | errors |")
		p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
		for _, x := range rows {
			c, tput := fmt.Sprint(x.Conc), fmt.Sprintf("%.0f", x.Throughput)
			if x.Path == pathVerify {
				c, tput = fmt.Sprintf("%d goroutines", r.Machine.GOMAXPROCS), fmt.Sprintf("%.0f per core", x.Throughput)
			}
			errs := fmt.Sprint(x.Errors)
			if x.FirstErr != "" {
				errs += " (" + x.FirstErr + ")"
			}
			p("| %s | %s | %s | %s | %s | %s | %s | %.2f | %s | %s | %s |", x.Path, c, tput, ms(x.P50), ms(x.P99),
				us(x.CPUPerOp), us(x.Floor), x.ratio(), mib(x.RSSMax), mib(x.Peak), errs)
		}
		p("")
	}

	if r.hasScale() {
		p("### Scale: %s against 10 clients\n", r.scaleLabel())
		p("Both servers run side by side; each load runs %d times on each, alternating, and the best throughput and the lowest CPU/op of each side are compared.\n", scaleRounds)
		p("| path | C | ops/s, 10 clients | ops/s, scale | ratio | CPU/op, 10 clients | CPU/op, scale | ratio |")
		p("|---|---:|---:|---:|---:|---:|---:|---:|")
		for _, x := range r.Rows {
			if x.Section != scaleDB {
				continue
			}
			s, ok := r.find(pairedSmallDB, x.Path, x.Conc)
			if !ok {
				continue
			}
			p("| %s | %d | %.0f | %.0f | %.2f | %s | %s | %.2f |", x.Path, x.Conc, s.Throughput, x.Throughput,
				x.Throughput/s.Throughput, us(s.CPUPerOp), us(x.CPUPerOp), float64(x.CPUPerOp)/float64(s.CPUPerOp))
		}
		p("")
	}

	r.printStepCA(p)
	r.printPostgres(p)
	p("### Start time and database size\n")
	p("| what | value |")
	p("|---|---:|")
	for _, s := range r.Starts {
		p("| server start (exec → `/v1/health` 200), %s | %s |", s.Label, ms(s.Took))
	}
	if n, ok := r.DBSizes[smallDB]; ok {
		p("| database size after the loads, 10 clients (db + wal) | %.1f MiB |", float64(n)/(1<<20))
	}
	if n, ok := r.DBSizes[scaleDB]; ok {
		p("| database size, %s, after the loads | %.1f MiB |", r.scaleLabel(), float64(n)/(1<<20))
		p("| seeding the scale database (storage.ImportClients/ImportCertificates) | %v |", r.SeedTime.Round(100*time.Millisecond))
	}
	p("")
	r.printTargets(p)
	r.Notes = append(r.Notes,
		"HTTP/1.1 over TLS 1.3 with Go's default key exchange (X25519MLKEM768) and a P-256 server certificate; every client key and certificate is P-256.",
		"Renewal re-keys and each certificate renews once (a second renewal is refused as a possible clone), so every renewal presents a certificate that was never renewed. "+
			"\"keep-alive mTLS\": the connections, one per certificate, are opened before the timed window (their handshakes are not counted) and carry one renewal each; "+
			"\"new mTLS connection each\": the handshake is inside the window, as for a real client.",
		"Enrollment tokens are minted through the admin API and renewal keys/CSRs made before each window; enrollment reuses 256 CSRs (the API allows a key to enroll again).",
		"The floor of each path is measured in this run on one locked thread (getrusage RUSAGE_THREAD) while the machine is otherwise idle; under load the same crypto costs more (two vCPUs share caches).",
		"token, keep-alive: the chain check is done once per certificate (ca's verified-chain cache), so its floor is one ES256 signature as in the target.",
	)
	if len(r.Notes) > 0 {
		p("### Notes\n")
		for _, n := range r.Notes {
			p("- %s", n)
		}
		p("")
	}
}

func (r *report) hasScale() bool {
	for _, x := range r.Rows {
		if x.Section == scaleDB {
			return true
		}
	}
	return false
}

// printTargets compares the run with the targets of the performance issue.
func (r *report) printTargets(p func(string, ...any)) {
	p("### Against the targets\n")
	p("| target | measured | verdict |")
	p("|---|---|---|")
	verdict := func(ok bool) string { return map[bool]string{true: "met", false: "**not met**"}[ok] }
	for _, c := range []int{16, 64} {
		if single, ok := r.find(smallDB, pathEnroll, c); ok {
			x, n := r.lowestCPU(pathEnroll, c)
			p("| enrollment C=%d: server CPU/cert ≤ 1.5 × floor (%s) | %s | %s |", c, us(x.Floor*3/2), measured(x, n, single), verdict(x.ratio() <= 1.5))
		}
	}
	for _, c := range []int{16, 64} {
		if single, ok := r.find(smallDB, pathTokenKA, c); ok {
			x, n := r.lowestCPU(pathTokenKA, c)
			p("| token keep-alive C=%d: server CPU/token ≤ 3 × ES256 sign (%s) | %s | %s |", c, us(x.Floor*3), measured(x, n, single), verdict(x.ratio() <= 3))
		}
	}
	if x, ok := r.find(smallDB, pathTokenKA, 16); ok {
		p("| token keep-alive: p99 at C=16 ≤ 5 ms | %s | %s |", ms(x.P99), verdict(x.P99 <= 5*time.Millisecond))
	}
	for _, c := range []int{16, 64} {
		if single, ok := r.find(smallDB, pathTokenFull, c); ok {
			x, n := r.lowestCPU(pathTokenFull, c)
			p("| token, full handshake each, C=%d: ≤ 1.3 × (handshake + chain + sign) = %s | %s | %s |", c, us(x.Floor*13/10), measured(x, n, single), verdict(x.ratio() <= 1.3))
		}
	}
	if x, ok := r.find(smallDB, pathVerify, 0); ok {
		p("| verification ≤ 1.15 × one ES256 verify (%s) | %s = %.2f × | %s |", us(x.Floor*115/100), us(x.CPUPerOp), x.ratio(), verdict(x.ratio() <= 1.15))
	}
	var hi uint64
	var at string
	for _, x := range r.Rows {
		if x.Section == stepCASection || x.Section == stepCARekey || x.Section == pgStepCA {
			continue
		}
		if m := max(x.RSSMax, x.Peak); m > hi {
			hi, at = m, fmt.Sprintf("%s C=%d (%s)", x.Path, x.Conc, x.Section)
		}
	}
	if hi > 0 {
		p("| server RSS ≤ 64 MiB under every load | %s MiB peak, %s | %s |", mib(hi), at, verdict(hi <= 64<<20))
	}
	if r.hasScale() {
		worst, at, worstCPU, atCPU := 1.0, "", 1.0, ""
		for _, x := range r.Rows {
			if s, ok := r.find(pairedSmallDB, x.Path, x.Conc); ok && x.Section == scaleDB && s.Throughput > 0 {
				if q := x.Throughput / s.Throughput; q < worst {
					worst, at = q, fmt.Sprintf("%s C=%d", x.Path, x.Conc)
				}
				if q := float64(x.CPUPerOp) / float64(s.CPUPerOp); q > worstCPU {
					worstCPU, atCPU = q, fmt.Sprintf("%s C=%d", x.Path, x.Conc)
				}
			}
		}
		p("| scale: throughput within 10 %% of the small database | worst %.2f × (%s); server CPU/op worst %.2f × (%s) | %s |",
			worst, at, worstCPU, atCPU, verdict(worst >= 0.9))
		for _, s := range r.Starts {
			if strings.Contains(s.Label, "certificates") {
				p("| scale: start < 2 s | %s | %s |", ms(s.Took), verdict(s.Took < 2*time.Second))
			}
		}
	}
	r.printPostgresTargets(p, verdict)
	if r.StepCA == "" {
		p("| enrollment ≥ 3 × step-ca, renewal ≥ 2 × step-ca | not measured by `make bench` (see `make bench-compare`) | — |")
	}
	for _, t := range []struct {
		path   string
		c      int
		factor float64
	}{{pathEnroll, 16, 3}, {pathEnroll, 64, 3}, {pathRenew, 64, 2}} {
		mine, ok1 := r.find(pairedStepCADB, t.path, t.c)
		theirs, ok2 := r.find(stepCASection, t.path, t.c)
		if ok1 && ok2 && theirs.Throughput > 0 {
			q := mine.Throughput / theirs.Throughput
			p("| %s C=%d: ≥ %.0f × step-ca's throughput | %.0f/s vs %.0f/s = %.2f × | %s |", t.path, t.c, t.factor, mine.Throughput, theirs.Throughput, q, verdict(q >= t.factor))
		}
	}
	p("")
}

func (r *report) printStepCA(p func(string, ...any)) {
	var rows []row
	for _, x := range r.Rows {
		if x.Section == stepCASection {
			rows = append(rows, x)
		}
	}
	if len(rows) == 0 {
		return
	}
	p("### Compared with step-ca (%s)\n", r.StepCA)
	p("step-ca runs next to certbound on this machine with a JWK provisioner and its default badger database, on a P-256 CA like certbound's; "+
		"each load runs %d times on each server, alternating, and the best throughput and the lowest CPU/op of each side are kept. "+
		"Enrollment: step-ca `POST /1.0/sign` with a one-time token minted before the window vs certbound `POST /v1/enroll`. "+
		"Renewal: step-ca `POST /1.0/renew` renews the same certificate again and again on one keep-alive mTLS connection per worker "+
		"(same key, no CSR); certbound re-keys (CSR, new key) and renews each certificate once, on connections opened before the window.\n", scaleRounds)
	p("| path | C | certbound ops/s | step-ca ops/s | certbound ÷ step-ca | certbound CPU/op | step-ca CPU/op | certbound RSS peak MiB | step-ca RSS peak MiB | errors (cb/step-ca) |")
	p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, theirs := range rows {
		mine, ok := r.find(pairedStepCADB, theirs.Path, theirs.Conc)
		if !ok {
			continue
		}
		p("| %s | %d | %.0f | %.0f | %.2f | %s | %s | %s | %s | %d/%d |", theirs.Path, theirs.Conc, mine.Throughput, theirs.Throughput,
			mine.Throughput/theirs.Throughput, us(mine.CPUPerOp), us(theirs.CPUPerOp), mib(max(mine.Peak, mine.RSSMax)),
			mib(max(theirs.Peak, theirs.RSSMax)), mine.Errors, theirs.Errors)
		if rk, ok := r.find(stepCARekey, theirs.Path, theirs.Conc); ok {
			p("| %s vs step-ca `/1.0/rekey` (new key from a CSR) | %d | %.0f | %.0f | %.2f | %s | %s | %s | %s | %d/%d |", theirs.Path, theirs.Conc,
				mine.Throughput, rk.Throughput, mine.Throughput/rk.Throughput, us(mine.CPUPerOp), us(rk.CPUPerOp),
				mib(max(mine.Peak, mine.RSSMax)), mib(max(rk.Peak, rk.RSSMax)), mine.Errors, rk.Errors)
		}
	}
	p("")
}

func (c config) serverArgsDoc() []string {
	return (&bench{cfg: c}).serverArgs()
}

func (r *report) writeJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
