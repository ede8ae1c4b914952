// Package datalock makes a certbound data dir belong to one process at a
// time: `certbound serve` holds an exclusive flock(2) on <data-dir>/certbound.lock
// for as long as it runs, and the file names the holder's PID.
//
// Why: each server keeps a status cache of clients and revocations that only
// its own writes invalidate (storage/statuscache.go), so a second server on
// the same SQLite file would keep accepting a certificate the first one
// revoked. Several replicas are the PostgreSQL backend's business, with its
// own coherence rules.
//
// The lock is advisory and dies with the process (the kernel drops it when
// the descriptor closes, SIGKILL included), so a crash never leaves a data
// dir locked; the file itself stays, and only a held lock counts. Readers —
// `certbound backup`, OpenReadOnly — take no lock.
package datalock
