// Package e2e holds the end-to-end tests of the seed guide's scenario: a real
// `certbound serve` process, built from this repository, with the example
// services' code (package calendar, tasks and identity) running in the test
// process, the `make demo` program run against freshly built binaries, and the
// seed guide's own JavaScript (test/seed) run with Node when it is installed.
// The package has no code outside its tests.
package e2e
