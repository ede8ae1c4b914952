package replicas

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
)

// TestOneEnrollmentTokenRedeemedOnThreeReplicasAtOnceYieldsOneCertificate:
// 50 goroutines per replica send the same enrollment token at the same
// moment, each over a TLS connection established beforehand; exactly one
// gets a certificate, every other one 401 invalid_token, and the database
// holds exactly that one certificate.
func TestOneEnrollmentTokenRedeemedOnThreeReplicasAtOnceYieldsOneCertificate(t *testing.T) {
	db := sharedDatabase(t)
	c := startCluster(t, db, 3)
	ctx := context.Background()
	const perReplica = 50
	rounds := 2
	if testing.Short() {
		rounds = 1
	}
	for round := range rounds {
		clientID := fmt.Sprintf("race-enroll-%d", round)
		c.createClient(ctx, c.replicas[0], clientID)
		token := c.mustMintToken(ctx, c.replicas[round%3], clientID)

		results := make([]error, perReplica*len(c.replicas))
		serials := make([]string, len(results))
		atOnce(t, len(results), func(i int) (*http.Client, func() error) {
			r := c.replicas[i%len(c.replicas)]
			id, err := newKey(clientID)
			if err != nil {
				t.Fatal(err)
			}
			hc := c.httpClient(nil, true)
			return hc, func() error {
				got, err := c.enroll(ctx, hc, r, token, id)
				if err == nil {
					serials[i] = got.serial
				}
				results[i] = err
				return nil
			}
		}, c.replicas)

		var won []string
		for i, err := range results {
			switch e, _ := err.(*apiError); {
			case err == nil:
				won = append(won, fmt.Sprintf("%s on %s", serials[i], c.replicas[i%3].name))
			case e != nil && e.Status == http.StatusUnauthorized && e.Code == "invalid_token":
			default:
				t.Errorf("round %d, goroutine %d on %s: %v (want 201 or 401 invalid_token)", round, i, c.replicas[i%3].name, err)
			}
		}
		if len(won) != 1 {
			t.Fatalf("round %d: %d certificates for one token: %v", round, len(won), won)
		}
		rows := dbColumn(t, db, `SELECT serial FROM certificates WHERE client_id = $1`, clientID)
		if len(rows) != 1 {
			t.Fatalf("round %d: the database holds %d certificates for the token (%v), want 1", round, len(rows), rows)
		}
		if winner := serials[indexOfNil(results)]; rows[0] != winner {
			t.Fatalf("round %d: the database holds %s, the caller got %s", round, rows[0], winner)
		}
	}
}

// TestOneCertificateRenewedOnTwoReplicasAtOnceHasOneSuccessor: the same
// certificate is presented for renewal on two replicas at the same moment;
// exactly one renewal succeeds, the other is refused with a 4xx, and the
// database records exactly one successor.
func TestOneCertificateRenewedOnTwoReplicasAtOnceHasOneSuccessor(t *testing.T) {
	db := sharedDatabase(t)
	c := startCluster(t, db, 3)
	ctx := context.Background()
	rounds := 6
	if testing.Short() {
		rounds = 2
	}
	for round := range rounds {
		// A client per round: the refused twin marks the lineage suspect
		// (clone detection), which is not what this test is about.
		clientID := fmt.Sprintf("race-renew-%d", round)
		c.createClient(ctx, c.replicas[0], clientID)
		cur, err := c.enrollNew(ctx, c.replicas[0], c.mustMintToken(ctx, c.replicas[0], clientID), clientID)
		if err != nil {
			t.Fatal(err)
		}
		pair := []*replica{c.replicas[round%3], c.replicas[(round+1)%3]}
		results := make([]error, 2)
		serials := make([]string, 2)
		atOnce(t, 2, func(i int) (*http.Client, func() error) {
			next, err := newKey(clientID)
			if err != nil {
				t.Fatal(err)
			}
			hc := c.httpClient(cur, true)
			return hc, func() error {
				var out issued
				results[i] = call(ctx, hc, jsonRequest("POST", pair[i].url+"/v1/renew", map[string]string{"csr": string(next.csr)}), &out)
				serials[i] = out.Serial
				return nil
			}
		}, pair)

		var won int
		for i, err := range results {
			switch s := status(err); {
			case err == nil:
				won++
			case s >= 400 && s < 500:
			default:
				t.Errorf("round %d: renewal on %s: %v (want 201 or a 4xx refusal)", round, pair[i].name, err)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d renewals of %s succeeded (%v), want exactly 1", round, won, cur.serial, serials)
		}
		rows := dbColumn(t, db, `SELECT serial FROM certificates WHERE renewed_from = $1`, cur.serial)
		if len(rows) != 1 {
			t.Fatalf("round %d: the database records %d successors of %s (%v), want 1", round, len(rows), cur.serial, rows)
		}
		if winner := serials[indexOfNil(results)]; rows[0] != winner {
			t.Fatalf("round %d: the database records successor %s, the caller got %s", round, rows[0], winner)
		}
	}
}

// atOnce prepares n callers — each with its own HTTP client, whose
// connection to the replica it will call is opened (TLS handshake done)
// before any caller starts — and then releases them together, so that the
// requests meet at the servers rather than in the handshakes.
func atOnce(t *testing.T, n int, prepare func(i int) (*http.Client, func() error), targets []*replica) {
	t.Helper()
	release := make(chan struct{})
	var ready, done sync.WaitGroup
	for i := range n {
		hc, fire := prepare(i)
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			defer hc.CloseIdleConnections()
			// Warm the connection: the next request reuses it.
			if resp, err := hc.Get(targets[i%len(targets)].url + "/v1/health"); err == nil {
				resp.Body.Close()
			}
			ready.Done()
			<-release
			_ = fire()
		}()
	}
	ready.Wait()
	close(release)
	done.Wait()
}

func indexOfNil(errs []error) int {
	for i, err := range errs {
		if err == nil {
			return i
		}
	}
	return -1
}
