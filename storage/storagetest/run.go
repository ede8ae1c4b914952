package storagetest

import (
	"testing"

	"github.com/certbound/certbound/storage"
)

// Run runs the conformance suite against the backend open returns. open is
// called once per subtest and must return a fresh, empty, migrated store
// that it closes when t ends (t.Cleanup).
func Run(t *testing.T, open func(t testing.TB) storage.Store) {
	t.Run("status source", func(t *testing.T) { StatusSource(t, open(t)) })
}
