package replicas

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/certbound/certbound/storage"
)

// TestChangesOnOneReplicaApplyOnEveryReplicaWithinTheStalenessBounds: SPEC
// §13's bounds, measured from the moment the admin call returned — 1 s
// (storage.NotifiedStaleness) while the notification connection is up, 30 s
// (storage.MaxStaleness) when it was cut just before the change. Every
// replica has first served the certificate, so a stale cache would still
// hold "good".
func TestChangesOnOneReplicaApplyOnEveryReplicaWithinTheStalenessBounds(t *testing.T) {
	db := sharedDatabase(t)
	c := startCluster(t, db, 3)
	a, b, cc := c.replicas[0], c.replicas[1], c.replicas[2]
	ctx := context.Background()

	t.Run("revoked on A, refused on B and C within 1 s", func(t *testing.T) {
		id := c.enrolledClient(t, a, "revoked-on-a")
		polls := []*tokenPoll{c.newTokenPoll(t, b, id), c.newTokenPoll(t, cc, id)}
		c.revoke(ctx, a, id.serial)
		changed := time.Now()
		for _, p := range polls {
			p.requireRefusedWithin(t, changed, storage.NotifiedStaleness)
		}
	})

	t.Run("disabled on B, refused on A within 1 s", func(t *testing.T) {
		id := c.enrolledClient(t, a, "disabled-on-b")
		p := c.newTokenPoll(t, a, id)
		c.disable(ctx, b, id.clientID)
		changed := time.Now()
		p.requireRefusedWithin(t, changed, storage.NotifiedStaleness)
	})

	t.Run("B's notification connection killed, revoked on A, refused on B within 30 s", func(t *testing.T) {
		id := c.enrolledClient(t, a, "revoked-unnotified")
		p := c.newTokenPoll(t, b, id)
		// B is frozen while its listener is cut and the revocation commits,
		// so that B cannot have listened again in time to hear it: the
		// notification is lost for certain, and only B's recovery from a
		// lost listener (or its periodic reload) can bring the change.
		b.freeze()
		backend := terminateListener(t, db, b)
		c.revoke(ctx, a, id.serial)
		changed := time.Now()
		b.thaw()
		t.Logf("froze B, terminated its listener (backend pid %d), revoked on A, thawed B", backend)
		p.requireRefusedWithin(t, changed, storage.MaxStaleness)
	})
}

// enrolledClient registers clientID through r and enrolls one certificate
// for it there.
func (c *cluster) enrolledClient(t *testing.T, r *replica, clientID string) *identity {
	t.Helper()
	ctx := context.Background()
	c.createClient(ctx, r, clientID)
	id, err := c.enrollNew(ctx, r, c.mustMintToken(ctx, r, clientID), clientID)
	if err != nil {
		t.Fatalf("enroll %s on %s: %v", clientID, r.name, err)
	}
	return id
}

// tokenPoll asks one replica for tokens with one certificate, over one
// kept-alive mutual-TLS connection (a replica that checked the certificate
// only at the handshake would keep answering on it, and must not).
type tokenPoll struct {
	c  *cluster
	r  *replica
	id *identity
	hc *http.Client
}

// newTokenPoll also takes a first token, which must succeed: the replica
// has then seen the certificate and the client in their good state.
func (c *cluster) newTokenPoll(t *testing.T, r *replica, id *identity) *tokenPoll {
	t.Helper()
	p := &tokenPoll{c: c, r: r, id: id, hc: c.httpClient(id, true)}
	t.Cleanup(p.hc.CloseIdleConnections)
	if _, err := c.token(context.Background(), p.hc, r, id); err != nil {
		t.Fatalf("first token for %s on %s: %v", id.clientID, r.name, err)
	}
	return p
}

// requireRefusedWithin polls until the replica refuses the certificate with
// 401 invalid_client, and fails the test if a request SENT more than bound
// after changed still got a token: the time a request spends on the wire or
// in a queue is not counted against the replica. It keeps polling past the
// bound, up to MaxStaleness + 10 s, to report how late the change came.
func (p *tokenPoll) requireRefusedWithin(t *testing.T, changed time.Time, bound time.Duration) {
	t.Helper()
	ctx := context.Background()
	giveUp := changed.Add(storage.MaxStaleness + 10*time.Second)
	var lastGood time.Time
	for {
		sent := time.Now()
		_, err := p.c.token(ctx, p.hc, p.r, p.id)
		if err == nil {
			lastGood = sent
			if sent.After(giveUp) {
				t.Fatalf("replica %s still issues tokens to %s %s after the change (bound %s)", p.r.name, p.id.clientID, sent.Sub(changed).Round(time.Millisecond), bound)
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		e, ok := err.(*apiError)
		if !ok || e.Status != http.StatusUnauthorized || e.Code != "invalid_client" {
			t.Fatalf("replica %s answered %v; want a token or 401 invalid_client", p.r.name, err)
		}
		late := lastGood.Sub(changed)
		if lastGood.IsZero() {
			late = 0
		}
		t.Logf("replica %s: refused %s after the change; the last request it answered with a token was sent %s after it",
			p.r.name, time.Since(changed).Round(time.Millisecond), late.Round(time.Millisecond))
		if late > bound {
			t.Fatalf("replica %s issued a token for a request sent %s after the change; the bound is %s", p.r.name, late.Round(time.Millisecond), bound)
		}
		return
	}
}
