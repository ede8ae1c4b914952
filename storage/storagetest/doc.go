// Package storagetest holds every backend to the promises of storage.Store:
// Run is the one conformance suite storage/sqlite and storage/postgres both
// pass, concurrency cases included, and StatusSource checks the revocation
// and client-status rules of ca.StatusSource on its own.
//
// It knows no backend: the caller passes a function that opens a fresh,
// empty, migrated store. It is imported by tests only.
package storagetest
