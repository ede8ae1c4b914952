package server_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certbound/certbound/cmd/certbound/internal/server/servertest"
	"github.com/certbound/certbound/storage"
	"github.com/certbound/certbound/storage/postgres/pgtest"
	"github.com/certbound/certbound/tokenex"
)

// notifiedDeadline is the bound the change feed promises while the database
// is reachable (storage.NotifiedStaleness, SPEC §13's 1 s), plus room for a
// loaded test machine to schedule the reload.
const notifiedDeadline = storage.NotifiedStaleness + 500*time.Millisecond

// within polls ok until it holds or d has passed.
func within(d time.Duration, ok func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if ok() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAdminKeysFollowOtherReplicas: an admin key created on replica A works
// on B, and once A revokes it B refuses it, within the notified bound — B's
// in-memory key set follows the change feed.
func TestAdminKeysFollowOtherReplicas(t *testing.T) {
	url := pgtest.URL(t)
	a := servertest.Start(t, servertest.WithDatabase(url))
	b := servertest.Start(t, servertest.WithDatabase(url))
	ops := createAdminKey(t, a, "ops", "")
	status := func(s *servertest.Server) int {
		return s.Do(t, nil, "GET", "/v1/clients", nil, "Authorization: Bearer "+ops.Key).Status
	}
	if !within(notifiedDeadline, func() bool { return status(b) == http.StatusOK }) {
		t.Fatalf("a key created on A is not accepted by B within %v: %d", notifiedDeadline, status(b))
	}
	if r := a.Admin(t, "DELETE", "/v1/admin-keys/ops", nil); r.Status != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	if status(a) != http.StatusUnauthorized {
		t.Fatal("the revoking replica still accepts the key")
	}
	if !within(notifiedDeadline, func() bool { return status(b) == http.StatusUnauthorized }) {
		t.Fatalf("a key revoked on A is still accepted by B after %v", notifiedDeadline)
	}
}

// TestRotationOnOneReplicaPublishedEverywhereFirst: a rotation on A puts
// the new key into B's JWKS within the notified bound, while both go on
// signing with the old key; both switch at the activation time
// (MaxStaleness + ClockSkew later: the test advances their clocks).
func TestRotationOnOneReplicaPublishedEverywhereFirst(t *testing.T) {
	url := pgtest.URL(t)
	a := servertest.Start(t, servertest.WithDatabase(url))
	b := servertest.Start(t, servertest.WithDatabase(url))
	b.AdminKey = a.AdminKey
	a.CreateClient(t, "svc-rot", "x", "aud")
	cert, _ := a.Enroll(t, a.MintToken(t, "svc-rot"))
	kidOf := func(s *servertest.Server) string {
		tok, _ := tokenOK(t, s, s.HTTPClient(cert), "grant_type=client_credentials&client_id=svc-rot")
		return headerKID(t, tok)
	}
	oldKID := kidOf(a)

	r := a.Admin(t, "POST", "/v1/keys/rotate", nil)
	var rot struct {
		KID      string    `json:"kid"`
		ActiveAt time.Time `json:"active_at"`
	}
	r.JSON(t, &rot)
	if r.Status != http.StatusOK || rot.KID == "" {
		t.Fatalf("rotate: %d %s", r.Status, r.Body)
	}
	delay := storage.MaxStaleness + tokenex.ClockSkew
	if got := rot.ActiveAt.Sub(a.Now()); got < delay-2*time.Second || got > delay {
		t.Fatalf("active_at is %v from now, want about %v", got, delay)
	}
	if !within(notifiedDeadline, func() bool { return slices.Contains(jwksKIDs(t, b), rot.KID) }) {
		t.Fatalf("B does not publish the new key within %v: %v", notifiedDeadline, jwksKIDs(t, b))
	}
	for name, s := range map[string]*servertest.Server{"A": a, "B": b} {
		if kid := kidOf(s); kid != oldKID {
			t.Fatalf("%s signs with %s before the activation; want the old key %s", name, kid, oldKID)
		}
	}
	a.Advance(delay)
	b.Advance(delay)
	for name, s := range map[string]*servertest.Server{"A": a, "B": b} {
		if kid := kidOf(s); kid != rot.KID {
			t.Fatalf("%s signs with %s after the activation; want the new key %s", name, kid, rot.KID)
		}
	}
}

func headerKID(t *testing.T, jwt string) string {
	t.Helper()
	var h struct {
		KID string `json:"kid"`
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(jwt, ".")[0])
	if err != nil || json.Unmarshal(raw, &h) != nil {
		t.Fatalf("token header: %v", err)
	}
	return h.KID
}

func jwksKIDs(t *testing.T, s *servertest.Server) []string {
	t.Helper()
	var set struct {
		Keys []struct {
			KID string `json:"kid"`
		} `json:"keys"`
	}
	s.Do(t, nil, "GET", "/.well-known/jwks.json", nil).JSON(t, &set)
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KID)
	}
	return kids
}
