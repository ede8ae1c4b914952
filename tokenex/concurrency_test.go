package tokenex_test

import (
	"sync"
	"testing"

	"github.com/certbound/certbound/tokenex"
)

// TestIssueWhileRotating issues tokens from many goroutines while keys
// rotate, and checks that every token verifies against the JWKS published
// afterwards (run under -race).
func TestIssueWhileRotating(t *testing.T) {
	w := newWorld(t)
	const workers, perWorker, rotations = 8, 25, 5
	var wg sync.WaitGroup
	tokens := make(chan *tokenex.Token, workers*perWorker)
	errs := make(chan error, workers*perWorker+rotations)
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := cc(basic("svc-p", w.secretP))
			if i%2 == 1 {
				req = cc(mtls("svc-a", w.certA))
			}
			for range perWorker {
				tok, err := w.svc.IssueToken(t.Context(), req)
				if err != nil {
					errs <- err
					return
				}
				tokens <- tok
				_ = w.svc.JWKS()
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range rotations {
			if _, err := w.svc.RotateKey(t.Context()); err != nil {
				errs <- err
				return
			}
		}
	}()
	wg.Wait()
	close(tokens)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	jwks := w.svc.JWKS()
	if n := len(kids(t, jwks)); n != rotations+1 {
		t.Fatalf("%d keys published after %d rotations, want %d", n, rotations, rotations+1)
	}
	seen := map[string]bool{}
	n := 0
	for tok := range tokens {
		n++
		if _, err := verifyJWT(t, jwks, tok.AccessToken.Reveal(), "event", w.clock.Now()); err != nil {
			t.Fatalf("token by %s: %v", tok.KeyID, err)
		}
		if seen[tok.JTI] {
			t.Fatalf("jti %s issued twice", tok.JTI)
		}
		seen[tok.JTI] = true
	}
	if n != workers*perWorker {
		t.Fatalf("%d tokens, want %d", n, workers*perWorker)
	}
}
