package storage

import "errors"

var (
	// ErrNotFound: no row matches (or, for single-use records, none is usable).
	ErrNotFound = errors.New("storage: not found")
	// ErrConflict: a row with that key already exists, or a single-use
	// transition already happened.
	ErrConflict = errors.New("storage: conflict")
	// ErrUnavailable: the database cannot be reached or refused service for
	// now (connection lost, shutting down, failover); retrying later may
	// succeed. The HTTP edge answers 503, never 500.
	ErrUnavailable = errors.New("storage: database unavailable")
)
