// Package dbcopy is `certbound db copy`: an install moves between SQLite
// (the data dir: certbound.db and the CA files in ca/) and PostgreSQL (the
// records and the CA, keys encrypted, in the database) with every row as it
// is, then both sides are compared table by table before the copy is
// reported done.
package dbcopy
