// Package backend is the one place that picks a storage backend: the
// server and the CLI name a database with one string (--database, SPEC §13)
// and get a storage.Store, without knowing which backend serves it.
//
//   - "" (the default): SQLite at <data-dir>/certbound.db (storage/sqlite),
//     the embedded default for one server, file mode 0600.
//   - postgres://… or postgresql://… (a libpq URL), or a libpq key=value
//     string that starts with a libpq keyword ("host=db dbname=certbound
//     user=certbound"): PostgreSQL (storage/postgres), several replicas on
//     one database.
//
// Anything else is refused with the forms it accepts — a file path, a
// sqlite:// URL or a typo never falls back to SQLite silently.
//
// It is the only package that imports both backends (a layering test keeps
// it so). Database URLs may carry a password: Redacted is the form that
// goes into logs and errors, and no error of this package holds the
// password.
package backend
