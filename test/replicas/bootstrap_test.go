package replicas

import (
	"context"
	"testing"
)

// TestThreeReplicasStartedTogetherOnAnEmptyDatabaseShareOneCA: three
// replicas exec'd at the same moment against an empty database all become
// ready (migrations ran once, under the lock, the others waited), and they
// bootstrapped one CA and one admin key between them: every replica serves
// the same root, and exactly one bootstrap admin key exists, in the database
// and on disk.
func TestThreeReplicasStartedTogetherOnAnEmptyDatabaseShareOneCA(t *testing.T) {
	t.Parallel() // no timed assertion: it may share the CPU with the long tests
	db := sharedDatabase(t)
	c := startCluster(t, db, 3)
	ctx := context.Background()

	for _, r := range c.replicas {
		pemBytes, err := fetchRootsUnverified(r.url)
		if err != nil {
			t.Fatalf("replica %s: %v", r.name, err)
		}
		if got := rootFingerprint(pemBytes); got != c.fingerprint {
			t.Errorf("replica %s serves root %s, replica A serves %s", r.name, got, c.fingerprint)
		}
	}
	if n := dbInt(t, db, `SELECT count(*) FROM ca_material`); n != 1 {
		t.Errorf("ca_material holds %d rows, want 1", n)
	}
	if n := dbInt(t, db, `SELECT count(*) FROM admin_keys`); n != 1 {
		t.Errorf("admin_keys holds %d rows, want the one bootstrap key", n)
	}
	if files := c.adminKeyFiles(); len(files) != 1 {
		t.Errorf("admin.key written by %d replicas (%v), want exactly one", len(files), keysOf(files))
	}

	// The key works on every replica, not only on the one that minted it.
	for _, r := range c.replicas {
		if err := c.admin(ctx, r, "GET", "/v1/clients", nil, nil); err != nil {
			t.Errorf("GET /v1/clients on replica %s with the bootstrap key: %v", r.name, err)
		}
	}
}

func keysOf[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
