package server_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/certbound/certbound/cmd/certbound/internal/server"
	"github.com/certbound/certbound/cmd/certbound/internal/server/servertest"
	"github.com/certbound/certbound/enroll"
)

// event is one request of the concurrency test, with when it started and
// when its answer arrived.
type event struct {
	kind       string // redeem, renew, revoke, token
	key        string // the token, or the serial of the certificate used or revoked
	status     int
	start, end time.Time
	body       []byte
}

// TestConcurrentRedeemRenewRevokeToken: 200 goroutines at once redeem
// enrollment tokens (five per token), renew certificates (two per
// certificate), revoke certificates and request tokens with them. Whatever
// the interleaving: every enrollment token gets exactly one certificate,
// every certificate is renewed at most once, and no request that started
// after a certificate's revocation returned succeeds with it (neither a
// token nor a renewal); the tokens it got before are inactive at
// introspection; nothing is a 5xx and the database is consistent.
func TestConcurrentRedeemRenewRevokeToken(t *testing.T) {
	s := servertest.Start(t, servertest.WithConfig(func(c *server.Config) {
		c.CloneAction = enroll.CloneRefuse // concurrent renewals of one certificate are expected here
	}))
	const (
		clients   = 10
		tokens    = 20 // redeemed by 5 goroutines each: 100
		renewed   = 20 // certificates renewed by 2 goroutines each: 40
		revokers  = 20 // certificates revoked: 20
		requester = 40 // token requesters: 40 goroutines
		perLoop   = 8  // token requests per requester
	)
	type cert struct {
		tls    tls.Certificate
		serial string
		client string
		http   *http.Client
	}
	var certsList []cert
	for i := range clients {
		id := fmt.Sprintf("c%d", i)
		s.CreateClient(t, id, "a", "aud")
		for range 5 {
			c, is := s.Enroll(t, s.MintToken(t, id))
			certsList = append(certsList, cert{tls: c, serial: is.Serial, client: id, http: s.HTTPClient(c)})
		}
	}
	var enrollTokens []string
	for i := range tokens {
		enrollTokens = append(enrollTokens, s.MintToken(t, fmt.Sprintf("c%d", i%clients)))
	}
	// Certificates 0-19 are renewed, 10-29 revoked (so 10 both), 10-49 used for tokens.
	renewSet, revokeSet, tokenSet := certsList[0:renewed], certsList[10:10+revokers], certsList[10:50]
	csrs := make([]string, 2*renewed)
	for i := range csrs {
		csrs[i] = servertest.CSR(t, servertest.NewKey(t))
	}
	enrollCSRs := make([]string, 5*tokens)
	for i := range enrollCSRs {
		enrollCSRs[i] = servertest.CSR(t, servertest.NewKey(t))
	}
	adminClient := s.HTTPClient()
	anon := s.HTTPClient()

	var mu sync.Mutex
	var events []event
	record := func(e event) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}
	do := func(c *http.Client, kind, key, method, path string, body any, headers ...string) *servertest.Response {
		start := time.Now()
		r := s.Do(t, c, method, path, body, headers...)
		record(event{kind: kind, key: key, status: r.Status, start: start, end: time.Now(), body: r.Body})
		return r
	}

	begin := make(chan struct{})
	var wg sync.WaitGroup
	goroutines := 0
	spawn := func(f func()) {
		goroutines++
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-begin
			f()
		}()
	}
	for i := range 5 * tokens {
		tok := enrollTokens[i/5]
		spawn(func() {
			do(anon, "redeem", tok, "POST", "/v1/enroll", map[string]string{"token": tok, "csr": enrollCSRs[i]})
		})
	}
	for i := range 2 * renewed {
		c := renewSet[i/2]
		spawn(func() {
			do(c.http, "renew", c.serial, "POST", "/v1/renew", map[string]string{"csr": csrs[i]})
		})
	}
	for _, c := range revokeSet {
		spawn(func() {
			time.Sleep(time.Duration(rand.IntN(40)) * time.Millisecond)
			do(adminClient, "revoke", c.serial, "POST", "/v1/certificates/"+c.serial+"/revoke", map[string]string{"reason": "test"},
				"Authorization: Bearer "+s.AdminKey)
		})
	}
	for i := range requester {
		c := tokenSet[i%len(tokenSet)]
		spawn(func() {
			for range perLoop {
				do(c.http, "token", c.serial, "POST", "/oauth2/token", "grant_type=client_credentials&client_id="+c.client, formCT)
			}
		})
	}
	if goroutines != 200 {
		t.Fatalf("%d goroutines, want 200", goroutines)
	}
	close(begin)
	wg.Wait()

	// Index what happened.
	revokedAt := map[string]time.Time{}
	redeemed := map[string]int{}
	renewals := map[string]int{}
	tally := map[string]map[int]int{}
	boundTokens := map[string]string{} // serial → a token it got
	for _, e := range events {
		if tally[e.kind] == nil {
			tally[e.kind] = map[int]int{}
		}
		tally[e.kind][e.status]++
		if e.status >= 500 {
			t.Errorf("%s %s: %d %s", e.kind, e.key, e.status, e.body)
		}
		switch {
		case e.kind == "revoke" && e.status == 200:
			revokedAt[e.key] = e.end
		case e.kind == "revoke":
			t.Errorf("revoke %s: %d %s", e.key, e.status, e.body)
		case e.kind == "redeem" && e.status == 201:
			redeemed[e.key]++
		case e.kind == "redeem" && e.status != 401:
			t.Errorf("redeem: %d %s", e.status, e.body)
		case e.kind == "renew" && e.status == 201:
			renewals[e.key]++
		case e.kind == "renew" && e.status != 403 && e.status != 401:
			t.Errorf("renew %s: %d %s", e.key, e.status, e.body)
		case e.kind == "token" && e.status == 200:
			var tok struct {
				AccessToken string `json:"access_token"`
			}
			(&servertest.Response{Body: e.body}).JSON(t, &tok)
			boundTokens[e.key] = tok.AccessToken
		case e.kind == "token" && e.status != 401:
			t.Errorf("token %s: %d %s", e.key, e.status, e.body)
		}
	}
	t.Logf("statuses by operation: %v", tally)

	// Single use.
	for _, tok := range enrollTokens {
		if redeemed[tok] != 1 {
			t.Errorf("an enrollment token was redeemed %d times", redeemed[tok])
		}
	}
	for serial, n := range renewals {
		if n > 1 {
			t.Errorf("certificate %s was renewed %d times", serial, n)
		}
	}
	// Nothing succeeds with a certificate after its revocation returned.
	late := 0
	for _, e := range events {
		r, revoked := revokedAt[e.key]
		if !revoked || !e.start.After(r) {
			continue
		}
		late++
		if (e.kind == "token" && e.status == 200) || (e.kind == "renew" && e.status == 201) {
			t.Errorf("%s with %s started %v after its revocation returned and succeeded", e.kind, e.key, e.start.Sub(r))
		}
	}
	if late == 0 {
		t.Error("no request started after a revocation: the test proved nothing")
	}
	// Tokens a revoked certificate got before are dead at introspection.
	checked := 0
	for serial, tok := range boundTokens {
		if _, revoked := revokedAt[serial]; !revoked {
			continue
		}
		checked++
		r := s.Do(t, adminClient, "POST", "/oauth2/introspect", "token="+tok, formCT, "Authorization: Bearer "+s.AdminKey)
		if r.Status != 200 || string(r.Body) != `{"active":false}`+"\n" {
			t.Errorf("a token bound to revoked %s introspects as %d %s", serial, r.Status, r.Body)
		}
	}
	t.Logf("%d requests began after their certificate's revocation returned, none succeeded; %d bound tokens of revoked certificates are inactive", late, checked)

	db := s.OpenDB(t)
	problems, err := db.CheckConsistency(context.Background())
	if err != nil || len(problems) != 0 {
		t.Fatalf("consistency: %v %v", problems, err)
	}
	wantCerts := len(certsList) + tokens + len(renewals)
	if got := s.Snapshot(t, db).Rows("certificates"); got != wantCerts {
		t.Fatalf("%d certificates recorded, want %d", got, wantCerts)
	}
}
