package storagetest

import (
	"testing"

	"github.com/certbound/certbound/storage"
)

// Opener returns a fresh, empty, migrated store that it closes when t ends
// (t.Cleanup).
type Opener func(t testing.TB) storage.Store

// Run runs the conformance suite against the backend open returns: every
// operation of storage.Store, every sentinel error, and the concurrency
// cases the server relies on (single use, single renewal, no lost update,
// a revocation seen at once), and, for a backend that keeps the CA, the
// promises of storage.SharedCA. Each group opens a store of its own; the
// subtests are named accept/…, reject/… and concurrency/… after what they
// show.
func Run(t *testing.T, open Opener) {
	for _, g := range []struct {
		name string
		run  func(*testing.T, Opener)
	}{
		{"clients", clients},
		{"enrollment tokens", enrollTokens},
		{"certificates", certificates},
		{"renewal", renewal},
		{"revocation", revocation},
		{"certificate states", certificateStates},
		{"clone lineage", cloneLineage},
		{"status reads", statusReads},
		{"signing keys", signingKeys},
		{"admin keys", adminKeys},
		{"audit trail", auditTrail},
		{"status source", func(t *testing.T, open Opener) { StatusSource(t, open(t)) }},
		{"shared CA", sharedCA},
		{"ping", ping},
	} {
		t.Run(g.name, func(t *testing.T) { g.run(t, open) })
	}
}

func ping(t *testing.T, open Opener) {
	t.Run("accept/an open store answers", func(t *testing.T) {
		if err := open(t).Ping(t.Context()); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	})
}
