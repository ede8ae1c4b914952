package postgres_test

import (
	"testing"

	"github.com/certbound/certbound/storage"
	"github.com/certbound/certbound/storage/storagetest"
)

// The one conformance suite both backends pass, each subtest on a fresh
// database of its own.
func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t testing.TB) storage.Store { return openFresh(t) })
}
