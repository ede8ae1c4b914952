package replicas

import (
	"testing"

	"github.com/certbound/certbound/storage/postgres/pgtest"
)

// sharedDatabase returns the URL of a fresh database on the machine's
// PostgreSQL, dropped at the end of the test (pgtest: skipped loudly when no
// server answers, failed under CI=true).
func sharedDatabase(t testing.TB) string {
	t.Helper()
	return pgtest.URL(t)
}
