package replicas

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/certbound/certbound/storage"
	"github.com/certbound/certbound/tokenex/verify"
)

// TestNoReplicaSignsWithANewKeyBeforeEveryReplicaPublishesIt rotates the
// signing key on A while B is frozen: no replica may sign with the new key
// while B, which has not run since before the rotation, cannot have
// published it. Then, round after round, it takes a token from every
// replica and only then reads every replica's JWKS. A token signed with the
// new kid in a round whose later JWKS reads lack that kid on some replica is
// a definite violation: that replica did not publish the key when the token
// was already signed with it (publication, once made, is never withdrawn
// before the key retires). Eventually every replica signs with the new key,
// and its tokens verify against every replica's JWKS.
func TestNoReplicaSignsWithANewKeyBeforeEveryReplicaPublishesIt(t *testing.T) {
	t.Parallel() // it mostly waits for the new key's activation
	db := sharedDatabase(t)
	c := startCluster(t, db, 3)
	ctx := context.Background()
	id := c.enrolledClient(t, c.replicas[0], "rotation-watcher")

	tokenClients := make([]*http.Client, len(c.replicas))
	for i := range c.replicas {
		tokenClients[i] = c.httpClient(id, true)
		defer tokenClients[i].CloseIdleConnections()
	}
	jwksClient := c.httpClient(nil, true)
	defer jwksClient.CloseIdleConnections()

	oldKid := ""
	for i, r := range c.replicas {
		tok, err := c.token(ctx, tokenClients[i], r, id)
		if err != nil {
			t.Fatalf("token on %s: %v", r.name, err)
		}
		if kid := kidOf(tok); oldKid == "" {
			oldKid = kid
		} else if kid != oldKid {
			t.Fatalf("before the rotation %s signs with %s, %s with %s", c.replicas[0].name, oldKid, r.name, kid)
		}
	}

	// B is frozen from before the rotation for frozenFor: whatever its
	// caches and its listener, it cannot publish the new key meanwhile, so
	// a token signed with it by A or C in that time is a violation for
	// certain, however fast B would have caught up once running.
	const frozenFor = 2 * time.Second
	b := c.replicas[1]
	b.freeze()
	newKid := c.rotate(ctx, c.replicas[0])
	rotated := time.Now()
	if newKid == oldKid {
		b.thaw()
		t.Fatalf("rotation returned the current kid %s", newKid)
	}
	for time.Since(rotated) < frozenFor {
		for _, i := range []int{0, 2} {
			tok, err := c.token(ctx, tokenClients[i], c.replicas[i], id)
			if err != nil {
				b.thaw()
				t.Fatalf("token on %s: %v", c.replicas[i].name, err)
			}
			if kidOf(tok) == newKid {
				b.thaw()
				t.Fatalf("%s signed with the new key %s %s after the rotation, while B (frozen since before it) could not publish it",
					c.replicas[i].name, newKid, time.Since(rotated).Round(time.Millisecond))
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.thaw()
	published := make([]time.Duration, len(c.replicas)) // first round whose JWKS listed it
	signed := make([]time.Duration, len(c.replicas))    // first round whose token used it
	newTokens := make([]string, len(c.replicas))
	// The key activates MaxStaleness (plus the clock skew) after the
	// rotation; give it that and a margin.
	deadline := rotated.Add(storage.MaxStaleness + 2*time.Minute)
	for round := 0; ; round++ {
		at := time.Since(rotated)
		kids := make([]string, len(c.replicas))
		for i, r := range c.replicas {
			tok, err := c.token(ctx, tokenClients[i], r, id)
			if err != nil {
				t.Fatalf("round %d: token on %s: %v", round, r.name, err)
			}
			if kids[i] = kidOf(tok); kids[i] == newKid {
				newTokens[i] = tok
				if signed[i] == 0 {
					signed[i] = at
				}
			} else if kids[i] != oldKid {
				t.Fatalf("round %d: %s signed with %s, neither the old %s nor the new %s", round, r.name, kids[i], oldKid, newKid)
			}
		}
		lacking := ""
		for i, r := range c.replicas {
			set, err := c.jwksKids(ctx, jwksClient, r)
			if err != nil {
				t.Fatalf("round %d: JWKS of %s: %v", round, r.name, err)
			}
			if !set[oldKid] {
				t.Fatalf("round %d: %s no longer publishes the old key %s, whose tokens are still valid", round, r.name, oldKid)
			}
			if set[newKid] {
				if published[i] == 0 {
					published[i] = at
				}
			} else {
				lacking += " " + r.name
			}
		}
		for i, kid := range kids {
			if kid == newKid && lacking != "" {
				t.Fatalf("round %d (%s after the rotation): %s signed with the new key %s, which the JWKS of%s did not list yet",
					round, at.Round(time.Millisecond), c.replicas[i].name, newKid, lacking)
			}
		}
		if all(signed) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s after the rotation not every replica signs with the new key (first signed at %v)", time.Since(rotated).Round(time.Second), signed)
		}
		if at < 5*time.Second {
			time.Sleep(50 * time.Millisecond)
		} else {
			time.Sleep(250 * time.Millisecond)
		}
	}
	t.Logf("new key %s published by A, B, C at %v; first used by them at %v (times after the rotation, at poll resolution)",
		newKid, rounded(published), rounded(signed))

	// Every replica's new-key token verifies against every replica's JWKS.
	for _, jwksOf := range c.replicas {
		v, err := verify.New(ctx, verify.Config{Issuer: issuer, Audience: testAudience,
			JWKSURL: jwksOf.url + "/.well-known/jwks.json", Roots: c.roots})
		if err != nil {
			t.Fatal(err)
		}
		for i, tok := range newTokens {
			if _, err := v.Verify(ctx, tok, id.leaf); err != nil {
				t.Errorf("%s's token signed with %s does not verify with %s's JWKS: %v", c.replicas[i].name, newKid, jwksOf.name, err)
			}
		}
	}
}

func all(ds []time.Duration) bool {
	for _, d := range ds {
		if d == 0 {
			return false
		}
	}
	return true
}

func rounded(ds []time.Duration) string {
	out := ""
	for _, d := range ds {
		out += fmt.Sprintf(" %s", d.Round(10*time.Millisecond))
	}
	return "[" + out[1:] + "]"
}
