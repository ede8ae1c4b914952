// Package pgtest gives each test a PostgreSQL database of its own.
//
// URL creates an empty database named certbound_t_<random> on the server
// named by the environment variable CERTBOUND_TEST_POSTGRES (a postgres://
// URL of a role that may CREATE DATABASE; default
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable) and drops it
// (WITH (FORCE), so that connections left open do not keep it) when the test
// ends. Tests run in parallel and in several packages at once: each gets its
// own database and never sees another's.
//
// When the server does not answer within a few seconds, the test is skipped
// with a loud message naming the variable — except under CI=true, where a
// skipped PostgreSQL suite would hide a broken setup, and the test fails.
//
// It creates and drops only databases named certbound_t_*; Admin and
// Terminate act on the server for tests that simulate outages.
package pgtest
