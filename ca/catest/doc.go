// Package catest provides a real certbound CA for tests: [New] bootstraps one
// with package ca in t.TempDir(), with the trust domain certbound.local and an
// in-memory [Status] the test drives (revoke a serial, disable a client).
//
// Leaves come from the real issuance path ([CA.Leaf]). The failure fixtures
// are real leaves re-signed by the real intermediate with exactly one rule of
// the profile broken, and each is named after that rule ([CA.ExpiredLeaf],
// [CA.TwoURISANsLeaf], …). [ForeignCA] and [SelfSigned] make certificates that
// carry the same SPIFFE names but do not chain to the CA under test.
//
// Only _test.go files import this package. Helpers take testing.TB, call
// t.Helper() and fail the test on error; nothing here is safe for production.
package catest
