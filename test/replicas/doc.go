// Package replicas is the end-to-end proof of SPEC §13 (issue 12, "Must
// show"): several real `certbound serve` processes on one PostgreSQL
// database, reached over real TLS on loopback, with nothing shared between
// them but the database URL and the CA password file.
//
// It holds only tests (`go test ./test/replicas/`). TestMain builds the
// binary once, without the race detector (the processes under test are
// black boxes here; the race detector runs on the packages' own tests). Each
// test starts its own replicas on a database of its own:
//
//   - on the machine's PostgreSQL (storage/postgres/pgtest: a fresh database
//     per test, dropped afterwards; CERTBOUND_TEST_POSTGRES names the server),
//     for everything that does not stop the database;
//   - on a private PostgreSQL cluster (initdb + pg_ctl into a temporary
//     directory, on a free port, listening on 127.0.0.1 only) for the fault
//     test, which restarts PostgreSQL: restarting the shared cluster would
//     break every other test running at the time.
//
// Where no PostgreSQL can be reached, or a private cluster cannot be
// created, the tests skip with a loud message, and fail instead when
// CI=true.
//
// The only timed assertions are the staleness bounds SPEC §13 sets (1 s
// while the database is reachable, 30 s in every case); everything else
// polls with a deadline. The tests that measure those bounds, and the
// single-use races, run on their own; the others (t.Parallel) run after
// them, two at a time on two cores: the rotation test spends some 90 s
// waiting for the new key's activation (storage.MaxStaleness plus the clock
// skew) while the fault test runs. -short shrinks the loops; CI runs the
// full version (about three minutes on two cores).
package replicas
