package replicas

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certbound/certbound/storage"
)

// TestCrashesAndDatabaseRestartsUnderLoadLoseNothingAndNeedNoRestart runs
// three replicas on a private PostgreSQL under a mixed load (enrollment,
// renewal, tokens) from a few goroutines, SIGKILLs a random replica and
// restarts it 10 times, and restarts PostgreSQL (pg_ctl restart -m fast) 3
// times, the last event being a database restart. Then:
//
//   - no enrollment token was redeemed twice (no caller got two certificates
//     for one token, and every enrollment certificate in the database is the
//     one its token records);
//   - no certificate was renewed twice;
//   - every certificate a caller received (201) is recorded in the database,
//     with the fingerprint of what the caller got; no serial was handed out
//     twice;
//   - no answer was a 500, and no valid credential was refused (an outage
//     is a 503 or no answer, never a wrong verdict);
//   - every replica — the killed ones restarted by the test, the others never
//     restarted — answers /v1/ready 200 again and issues a token.
//
// -short does 3 kills and 1 database restart.
func TestCrashesAndDatabaseRestartsUnderLoadLoseNothingAndNeedNoRestart(t *testing.T) {
	t.Parallel() // after the timed tests; next to the rotation test, which mostly waits
	pg := startPrivatePG(t)
	c := startCluster(t, pg.url, 3)
	ctx := context.Background()

	// 10 kills and 3 database restarts, a database restart last, so that the
	// replicas that were not killed must recover from it by themselves.
	events := strings.Split("K K K P K K K P K K K K P", " ")
	if testing.Short() {
		events = strings.Split("K K K P", " ")
	}

	const workers = 4
	l := &load{c: c, ledger: newLedger()}
	for w := range workers {
		c.createClient(ctx, c.replicas[0], fmt.Sprintf("load-%d", w))
	}
	loadCtx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.worker(loadCtx, fmt.Sprintf("load-%d", w))
		}()
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			stopLoad()
			wg.Wait()
		}
	}
	defer stop()

	time.Sleep(time.Second)
	kills := map[string]int{}
	for i, ev := range events {
		switch ev {
		case "K":
			r := c.replicas[rand.IntN(len(c.replicas))]
			t.Logf("event %d: SIGKILL replica %s (pid %d)", i, r.name, r.pid())
			r.kill()
			kills[r.name]++
			time.Sleep(200 * time.Millisecond) // the others carry the load alone for a moment
			c.restart(r)
		case "P":
			t.Logf("event %d: pg_ctl restart -m fast", i)
			pg.restart(t)
		}
		time.Sleep(700 * time.Millisecond) // load between events
	}
	time.Sleep(time.Second)
	stop()
	t.Logf("load: %s", l.ledger.summary())

	// Every replica is ready again by itself, within the bound a replica
	// has to notice the database came back, and serves.
	for _, r := range c.replicas {
		if want := 1 + kills[r.name]; r.runs != want {
			t.Fatalf("replica %s ran %d times, want %d", r.name, r.runs, want)
		}
		deadline := time.Now().Add(storage.MaxStaleness)
		for st := c.readyStatus(ctx, r); st != http.StatusOK; st = c.readyStatus(ctx, r) {
			if time.Now().After(deadline) {
				t.Fatalf("replica %s (killed %d times) answers /v1/ready %d, %s after the load ended", r.name, kills[r.name], st, storage.MaxStaleness)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	id := c.enrolledClient(t, c.replicas[0], "after-the-faults")
	for _, r := range c.replicas {
		if _, err := c.tokenOnce(ctx, r, id); err != nil {
			t.Errorf("replica %s does not issue a token after the faults: %v", r.name, err)
		}
	}

	l.ledger.check(t, pg.url)
}

// load is the mixed load of the fault test: each worker owns one client and
// cycles through enrollment (now and then replaying the redeemed token),
// tokens and renewal on random replicas.
type load struct {
	c      *cluster
	ledger *ledger
}

func (l *load) replica() *replica { return l.c.replicas[rand.IntN(len(l.c.replicas))] }

func (l *load) worker(ctx context.Context, clientID string) {
	var id *identity
	for ctx.Err() == nil {
		if id == nil {
			id = l.enroll(ctx, clientID)
			continue
		}
		for range 3 {
			_, err := l.c.tokenOnce(ctx, l.replica(), id)
			if ctx.Err() != nil {
				return
			}
			// The certificate is valid and the client enabled: the only
			// acceptable failures are no answer (a killed replica) and 503.
			l.ledger.note("token", err, err != nil && !unavailable(err))
		}
		id = l.renew(ctx, id)
		time.Sleep(10 * time.Millisecond)
	}
}

// enroll mints a token and redeems it, retrying the same token on random
// replicas for as long as the outcome is unknown (no answer, 503): a
// request that got no answer may have committed, so a later 401 is then
// legitimate, but a second certificate never is.
func (l *load) enroll(ctx context.Context, clientID string) *identity {
	var token string
	for token == "" {
		tok, err := l.c.mintToken(ctx, l.replica(), clientID)
		if ctx.Err() != nil {
			return nil
		}
		l.ledger.note("mint", err, err != nil && !unavailable(err))
		if err != nil {
			time.Sleep(50 * time.Millisecond)
		}
		token = tok
	}
	key, err := newKey(clientID)
	if err != nil {
		panic(err)
	}
	hc := l.c.httpClient(nil, false)
	defer hc.CloseIdleConnections()
	unknown := false
	for range 50 {
		id, err := l.c.enroll(ctx, hc, l.replica(), token, key)
		if ctx.Err() != nil {
			return nil
		}
		switch {
		case err == nil:
			l.ledger.note("enroll", nil, false)
			sum := sha256.Sum256([]byte(token))
			name := "token " + hex.EncodeToString(sum[:6])
			l.ledger.received(id, name, "")
			if rand.IntN(3) == 0 {
				l.replay(ctx, hc, token, name, key)
			}
			return id
		case unavailable(err):
			l.ledger.note("enroll", err, false)
			unknown = true
			time.Sleep(50 * time.Millisecond)
		case status(err) == http.StatusUnauthorized && unknown:
			l.ledger.note("enroll", err, false) // an unanswered attempt committed
			return nil
		default:
			l.ledger.note("enroll", err, true)
			return nil
		}
	}
	return nil
}

// replay sends a token that was just redeemed again, to a random replica,
// as a client that timed out and retried would: it must be refused (401),
// or get no answer at all.
func (l *load) replay(ctx context.Context, hc *http.Client, token, name string, key *identity) {
	id, err := l.c.enroll(ctx, hc, l.replica(), token, key)
	if ctx.Err() != nil {
		return
	}
	l.ledger.note("replay", err, err == nil || status(err) != http.StatusUnauthorized && !unavailable(err))
	if err == nil {
		l.ledger.received(id, name, "")
	}
}

// renew renews id once on a random replica and returns the successor; nil
// when the outcome is unknown or refused (the worker enrolls afresh rather
// than present a certificate that may already be renewed).
func (l *load) renew(ctx context.Context, id *identity) *identity {
	next, err := l.c.renew(ctx, l.replica(), id)
	if ctx.Err() != nil {
		return nil
	}
	l.ledger.note("renew", err, err != nil && !unavailable(err))
	if err != nil {
		return nil
	}
	l.ledger.received(next, "", id.serial)
	return next
}

// unavailable: no answer at all, or 503 — what a caller may see while a
// replica or the database is down.
func unavailable(err error) bool {
	s := status(err)
	return s == 0 || s == http.StatusServiceUnavailable
}

// ledger is what the callers of the fault test were told.
type ledger struct {
	mu         sync.Mutex
	der        map[string][]byte   // serial → the DER of the certificate received
	byToken    map[string][]string // enrollment token (by its hash) → serials received for it
	successors map[string][]string // serial → serials received as its renewal
	counts     map[string]int      // "enroll 201", "token 503", "renew no answer", …
	violations []string
}

func newLedger() *ledger {
	return &ledger{der: map[string][]byte{}, byToken: map[string][]string{}, successors: map[string][]string{}, counts: map[string]int{}}
}

// note counts one outcome of op; wrong marks an outcome no fault excuses.
func (l *ledger) note(op string, err error, wrong bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var outcome string
	switch s := status(err); {
	case err == nil:
		outcome = "ok"
	case s == 0:
		outcome = "no answer"
	default:
		outcome = fmt.Sprint(s)
	}
	l.counts[op+" "+outcome]++
	if wrong {
		what := fmt.Sprint(err)
		if err == nil {
			what = "accepted"
		}
		l.violations = append(l.violations, op+": "+what)
	}
}

// received records a certificate a caller got in a 201.
func (l *ledger) received(id *identity, token, renewedFrom string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, dup := l.der[id.serial]; dup {
		l.violations = append(l.violations, "serial "+id.serial+" received twice")
	}
	l.der[id.serial] = id.cert.Certificate[0]
	if token != "" {
		if l.byToken[token] = append(l.byToken[token], id.serial); len(l.byToken[token]) > 1 {
			l.violations = append(l.violations, fmt.Sprintf("%s redeemed for %v", token, l.byToken[token]))
		}
	}
	if renewedFrom != "" {
		if l.successors[renewedFrom] = append(l.successors[renewedFrom], id.serial); len(l.successors[renewedFrom]) > 1 {
			l.violations = append(l.violations, fmt.Sprintf("%s renewed into %v", renewedFrom, l.successors[renewedFrom]))
		}
	}
}

func (l *ledger) summary() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var parts []string
	for k, n := range l.counts {
		parts = append(parts, fmt.Sprintf("%s: %d", k, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// check compares the ledger with the database.
func (l *ledger) check(t *testing.T, dbURL string) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, v := range l.violations {
		t.Errorf("during the load: %s", v)
	}
	if l.counts["enroll ok"] == 0 || l.counts["renew ok"] == 0 || l.counts["token ok"] == 0 {
		t.Errorf("the load did too little to prove anything: %v", l.counts)
	}

	recorded := map[string]string{}
	for _, row := range dbQuery(t, dbURL, `SELECT serial, fingerprint FROM certificates`) {
		recorded[row[0]] = row[1]
	}
	for serial, der := range l.der {
		sum := sha256.Sum256(der)
		fp, ok := recorded[serial]
		switch {
		case !ok:
			t.Errorf("certificate %s was handed out (201) but is not in the database", serial)
		case fp != hex.EncodeToString(sum[:]):
			t.Errorf("certificate %s: the database records fingerprint %s, the caller got %x", serial, fp, sum)
		}
	}

	// Every enrollment certificate is the one its token records, and no token
	// records two: a token redeemed twice leaves a certificate no token names.
	if orphans := dbColumn(t, dbURL, `SELECT c.serial FROM certificates c WHERE c.renewed_from IS NULL
		AND NOT EXISTS (SELECT 1 FROM enroll_tokens e WHERE e.used_serial = c.serial)`); len(orphans) > 0 {
		t.Errorf("enrollment certificates no used token names (a token redeemed twice?): %v", orphans)
	}
	if twice := dbColumn(t, dbURL, `SELECT used_serial FROM enroll_tokens WHERE used_serial IS NOT NULL
		GROUP BY used_serial HAVING count(*) > 1`); len(twice) > 0 {
		t.Errorf("certificates named by more than one token: %v", twice)
	}
	if twice := dbColumn(t, dbURL, `SELECT renewed_from FROM certificates WHERE renewed_from IS NOT NULL
		GROUP BY renewed_from HAVING count(*) > 1`); len(twice) > 0 {
		t.Errorf("certificates renewed more than once: %v", twice)
	}
	t.Logf("%d certificates handed out, %d in the database", len(l.der), len(recorded))
}
